package loki

import (
	"context"
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
	"github.com/capstan-agent/capstan/spool"
	"github.com/capstan-agent/capstan/spool/batch"
	"github.com/capstan-agent/capstan/spool/spooltest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// rig is a spool with stream "app" read by the output and "dead" its dead
// letter.
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

// base is the time of record 0: recent enough for Loki's
// reject_old_samples.
var base = time.Now().Add(-time.Hour).Truncate(time.Second).UnixNano()

func line(p, i int) string { return fmt.Sprintf("p%d-%06d", p, i) }

// app of record i: one of three, so a partition feeds three streams.
func app(i int) string { return fmt.Sprintf("app%d", i%3) }

// add appends records from..from+n-1 of partition p in batches of per:
// record i has time base+i ms, attributes app and trace_id; its source
// host h<p> and input "files".
func (r *rig) add(p, from, n, per int) {
	r.t.Helper()
	src := []batch.Attr{batch.StringAttr("host.name", fmt.Sprintf("h%d", p)), batch.StringAttr("input", "files")}
	var b batch.Builder
	for i := from; i < from+n; i += per {
		b.ResetV2(uint64(1000+p), base, src)
		for j := i; j < min(i+per, from+n); j++ {
			b.AddRecord(base+int64(j)*int64(time.Millisecond), batch.KindString, []byte(line(p, j)),
				[]batch.Attr{batch.StringAttr("app", app(j)), batch.StringAttr("trace_id", fmt.Sprintf("t%d", j))})
		}
		b.SetSequence(uint64(min(i+per, from+n)))
		if _, err := r.st.Partition(p).Append(context.Background(), b.Bytes()); err != nil {
			r.t.Fatal(err)
		}
	}
}

func testConfig(endpoint string, f func(c *Config)) *Config {
	c := &Config{}
	conf.ApplyDefaults(c)
	c.Endpoint = endpoint
	c.Labels = map[string]string{"app": "app", "host": "host.name"}
	c.Retry.Initial, c.Retry.Max = 5*time.Millisecond, 50*time.Millisecond
	c.DrainTimeout = 500 * time.Millisecond
	c.DeadLetter.Stream = "dead"
	if f != nil {
		f(c)
	}
	return c
}

func (r *rig) run(c *Config) *delivery.Engine {
	r.t.Helper()
	set := component.Settings{ID: component.ID{Kind: component.KindOutput, Type: "loki", Name: "out"},
		Logger: zaptest.NewLogger(r.t, zaptest.Level(zap.WarnLevel)), StartAt: "oldest"}
	e, err := New(set, c)
	if err != nil {
		r.t.Fatal(err)
	}
	componenttest.RunOutput(r.t, e, r.host)
	return e
}

// deadLetters maps the body of each dead letter to its reason and
// message.
func (r *rig) deadLetters() map[string][2]string {
	r.t.Helper()
	out := map[string][2]string{}
	rd := r.host.DeadLetter.Partition(0).NewReader(0)
	buf := make([]byte, 4<<20)
	for {
		rg, err := rd.Next(4 << 20)
		if err != nil {
			return out
		}
		b := buf[:rg.Len]
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

// waitFor polls cond every 5ms for up to 30s; what says what it waits for.
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

func metric(ms []component.Metric, name string) float64 {
	for _, m := range ms {
		if m.Name == name && len(m.LabelValues) == 0 {
			return m.Value
		}
	}
	return -1
}

// addPlain appends n records of partition p without attributes of their
// own, in one batch whose source has host.name h<p>.
func (r *rig) addPlain(p, n int) {
	r.t.Helper()
	var b batch.Builder
	b.ResetV2(uint64(2000+p), base, []batch.Attr{batch.StringAttr("host.name", fmt.Sprintf("h%d", p))})
	for j := range n {
		b.AddRecord(base+int64(j)*int64(time.Millisecond), batch.KindString, []byte(line(p, j)), nil)
	}
	b.SetSequence(uint64(n))
	if _, err := r.st.Partition(p).Append(context.Background(), b.Bytes()); err != nil {
		r.t.Fatal(err)
	}
}
