package elasticsearch

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/capstan-agent/capstan/component"
	"github.com/capstan-agent/capstan/component/componenttest"
	"github.com/capstan-agent/capstan/component/conf"
	"github.com/capstan-agent/capstan/shipper/delivery"
	"github.com/capstan-agent/capstan/shipper/elasticsearch/esfake"
	"github.com/capstan-agent/capstan/spool"
	"github.com/capstan-agent/capstan/spool/batch"
	"github.com/capstan-agent/capstan/spool/spooltest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// rig is a spool with a stream "app" read by the output and a stream
// "dead" for its dead letters.
type rig struct {
	t    *testing.T
	sp   *spool.Spool
	st   *spool.Stream
	host *componenttest.Host
}

func newRig(t *testing.T, partitions int) *rig {
	sp := spooltest.Open(t, t.TempDir(), spool.Options{}, map[string]int{"app": partitions, "dead": 1})
	h := componenttest.NewHost(sp, "out")
	st := spooltest.Stream(t, sp, "app")
	h.StreamsRead = []*spool.Stream{st}
	h.DeadLetter = spooltest.Stream(t, sp, "dead")
	return &rig{t: t, sp: sp, st: st, host: h}
}

// baseTime is 2023-11-14T22:13:20Z.
const baseTime = 1_700_000_000_000_000_000

func body(p, i int) string { return fmt.Sprintf("p%d-%d", p, i) }

// add appends records from..from+n-1 of partition p in batches of per:
// record i has body p<p>-<i>, the time base+i ms, a level and a number.
func (r *rig) add(p, from, n, per int) {
	r.t.Helper()
	src := []batch.Attr{batch.StringAttr("host.name", "node-1"), batch.StringAttr("path", fmt.Sprintf("/logs/p%d.log", p))}
	var b batch.Builder
	for i := from; i < from+n; i += per {
		b.ResetV2(uint64(1000+p), baseTime+int64(i), src)
		for j := i; j < min(i+per, from+n); j++ {
			b.AddRecord(baseTime+int64(j)*1e6, batch.KindString, []byte(body(p, j)),
				[]batch.Attr{batch.StringAttr("level", "info"), batch.IntAttr("n", int64(j))})
		}
		b.SetSequence(uint64(min(i+per, from+n)))
		if _, err := r.st.Partition(p).Append(context.Background(), b.Bytes()); err != nil {
			r.t.Fatal(err)
		}
	}
}

func testConfig(url string, f func(c *Config)) *Config {
	c := &Config{}
	conf.ApplyDefaults(c)
	c.Endpoints = []string{url}
	c.Retry.Initial, c.Retry.Max = 5*time.Millisecond, 50*time.Millisecond
	c.DrainTimeout = 500 * time.Millisecond
	c.DeadLetter.Stream = "dead"
	if f != nil {
		f(c)
	}
	return c
}

func settings(t *testing.T) component.Settings {
	return component.Settings{ID: component.ID{Kind: component.KindOutput, Type: "elasticsearch", Name: "out"},
		Logger: zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)), StartAt: "oldest"}
}

// run runs an output of c until the test ends or stop is called.
func (r *rig) run(c *Config) (e *delivery.Engine, stop func() error) {
	r.t.Helper()
	e, err := New(settings(r.t), c)
	if err != nil {
		r.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx, r.host) }()
	select {
	case <-r.host.Readied():
	case err := <-done:
		cancel()
		r.t.Fatalf("output returned before it was ready: %v", err)
	case <-time.After(20 * time.Second):
		cancel()
		r.t.Fatal("output not ready after 20s")
	}
	stopped, serr := false, error(nil)
	stop = func() error {
		if !stopped {
			stopped = true
			cancel()
			select {
			case serr = <-done:
			case <-time.After(30 * time.Second):
				r.t.Fatal("output did not stop within 30s")
			}
		}
		return serr
	}
	r.t.Cleanup(func() { stop() })
	return e, stop
}

func (r *rig) committed(p int) uint64 {
	r.t.Helper()
	got, err := r.sp.Checkpoints().Load("out")
	if err != nil {
		r.t.Fatal(err)
	}
	return got[spool.Key{Stream: "app", Partition: p}]
}

// deadLetters reads the dead-letter stream: body → reason and message.
func (r *rig) deadLetters() map[string][2]string {
	r.t.Helper()
	out := map[string][2]string{}
	rd := r.host.DeadLetter.Partition(0).NewReader(0)
	for {
		rg, err := rd.Next(4 << 20)
		if err != nil {
			return out
		}
		b := make([]byte, rg.Len)
		rg.File.ReadAt(b, rg.Pos)
		for len(b) > 0 {
			bt, size, err := batch.Decode(b)
			if err != nil {
				r.t.Fatal(err)
			}
			it := bt.Records()
			var rec batch.Record
			for it.Next(&rec) {
				var v [2]string
				at := rec.Attrs()
				for a, ok := at.NextAttr(); ok; a, ok = at.NextAttr() {
					switch string(a.Key) {
					case delivery.AttrDeadLetterReason:
						v[0] = string(a.Value)
					case delivery.AttrDeadLetterMessage:
						v[1] = string(a.Value)
					}
				}
				out[string(rec.Body)] = v
			}
			b = b[size:]
		}
	}
}

// waitFor waits up to 30s for cond, failing with what it waited for.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after 30s still waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// messages are the message fields of an index's documents, by count.
func messages(t *testing.T, f *esfake.Server, index string) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, d := range f.Documents(index) {
		var doc struct {
			Message string `json:"message"`
		}
		if err := json.Unmarshal(d.Source, &doc); err != nil {
			t.Fatalf("document %s: %v", d.ID, err)
		}
		out[doc.Message]++
	}
	return out
}
