package process

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/capstan-agent/capstan/spool"
	"github.com/capstan-agent/capstan/spool/batch"
)

// memPart is a partition that keeps what it is given.
type memPart struct {
	batches [][]byte
	seq     map[uint64]uint64
	keep    bool
}

func (m *memPart) Append(_ context.Context, b []byte) (spool.AppendResult, error) {
	if m.keep {
		m.batches = append(m.batches, bytes.Clone(b))
	}
	h, err := batch.ParseHeader(b)
	if err != nil {
		return spool.AppendResult{}, err
	}
	if m.seq == nil {
		m.seq = map[uint64]uint64{}
	}
	m.seq[h.Producer] = h.Sequence
	return spool.AppendResult{Batches: 1}, nil
}

func (m *memPart) Sequence(p uint64) (uint64, bool) { s, ok := m.seq[p]; return s, ok }

func appenderOf(t testing.TB, yaml string, parts map[string]*memPart) (*Appender, *AppendStats) {
	t.Helper()
	c := chainOf(t, yaml, Options{Streams: []string{"app", "debug"}, InputFields: []string{"stream"}})
	stats := &AppendStats{}
	targets := func(stream string, id int) (Partition, bool) {
		p, ok := parts[stream]
		return p, ok
	}
	return NewAppender(c, 0, "app", []string{"app", "debug"}, targets, stats), stats
}

func inputBatch(producer, seq uint64, lines ...string) []byte {
	var b batch.Builder
	b.Reset(producer, []batch.Attr{batch.StringAttr("log.file.path", "/var/log/a.log")})
	for i, l := range lines {
		b.Add(int64(1000+i), []byte(l))
	}
	b.SetSequence(seq)
	return bytes.Clone(b.Bytes())
}

// TestAppenderRoutesAndKeepsTheSource: a batch's records are processed,
// split by stream into version 2 batches that keep the producer, sequence
// and source attributes; dropped records go nowhere; Sequence asks every
// stream.
func TestAppenderRoutesAndKeepsTheSource(t *testing.T) {
	app, debug := &memPart{keep: true}, &memPart{keep: true}
	a, stats := appenderOf(t, `
- {type: json, merge: true}
- {type: filter, drop_if: 'attrs["drop"] == true'}
- type: route
  cases: [{if: 'attrs["level"] == "debug"', stream: debug}]
`, map[string]*memPart{"app": app, "debug": debug})
	b := inputBatch(7, 4242, `{"level":"info","n":1}`, `{"level":"debug","n":2}`, `{"drop":true}`, `plain`)
	if _, err := a.Append(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	if len(app.batches) != 1 || len(debug.batches) != 1 {
		t.Fatalf("batches: app %d, debug %d", len(app.batches), len(debug.batches))
	}
	for name, p := range map[string]*memPart{"app": app, "debug": debug} {
		bt, _, err := batch.Decode(p.batches[0])
		if err != nil {
			t.Fatal(err)
		}
		if bt.Magic != batch.MagicV2 || bt.Producer != ProducerIn(7, "app", name) || bt.Sequence != 4242 || bt.ObservedTime == 0 {
			t.Errorf("%s: header %+v", name, bt.Header)
		}
		src := bt.SourceAttrs()
		if k, v, _ := src.Next(); string(k) != "log.file.path" || string(v) != "/var/log/a.log" {
			t.Errorf("%s: source attributes lost: %s=%s", name, k, v)
		}
	}
	if got := describeBatch(t, app.batches[0]); got != `{"level":"info","n":1} level=info n=1;plain capstan.parse_error=processors[0] json: not an object at byte 0;` {
		t.Errorf("app: %s", got)
	}
	if got := describeBatch(t, debug.batches[0]); got != `{"level":"debug","n":2} level=debug n=2;` {
		t.Errorf("debug: %s", got)
	}
	if stats.RecordsIn.Load() != 4 || stats.RecordsOut.Load() != 3 || stats.Dropped.Load() != 1 {
		t.Errorf("stats in %d out %d dropped %d", stats.RecordsIn.Load(), stats.RecordsOut.Load(), stats.Dropped.Load())
	}
	if s, ok := a.Sequence(7); !ok || s != 4242 {
		t.Errorf("Sequence = %d %v", s, ok)
	}
	if ProducerIn(7, "app", "debug") == 7 || ProducerIn(7, "app", "app") != 7 {
		t.Error("the debug part shares the source's producer: it would be taken for a re-send where both meet")
	}
	// All dropped: nothing appended, and the batch's sequence is not
	// known anywhere (the source re-reads it after a crash, and drops it
	// again).
	app.batches, debug.batches = nil, nil
	if _, err := a.Append(context.Background(), inputBatch(8, 1, `{"drop":true}`)); err != nil {
		t.Fatal(err)
	}
	if len(app.batches)+len(debug.batches) != 0 {
		t.Error("a batch whose records were all dropped was appended")
	}
}

func describeBatch(t *testing.T, b []byte) string {
	t.Helper()
	bt, _, err := batch.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	it := bt.Records()
	var r batch.Record
	for it.Next(&r) {
		sb.Write(r.Body)
		ai := r.Attrs()
		for a, ok := ai.NextAttr(); ok; a, ok = ai.NextAttr() {
			fmt.Fprintf(&sb, " %s=%s", a.Key, a.Value)
		}
		sb.WriteString(";")
	}
	return sb.String()
}

// BenchmarkAppenderTypicalChain is a file input's batch of 200-byte JSON
// lines through the typical chain and back into a batch: what an input
// with processors costs per record on top of the chain itself.
func BenchmarkAppenderTypicalChain(b *testing.B) {
	a, _ := appenderOf(b, typicalChain, map[string]*memPart{"app": {}, "debug": {}})
	lines := make([]string, 1000)
	for i := range lines {
		lines[i] = string(typicalLine)
	}
	in := inputBatch(1, 1, lines...)
	b.ReportAllocs()
	start := cpuTime(b)
	n := 0
	for b.Loop() {
		if _, err := a.Append(context.Background(), in); err != nil {
			b.Fatal(err)
		}
		n++
	}
	b.ReportMetric(float64(cpuTime(b)-start)/float64(n*len(lines)), "cpu-ns/record")
}
