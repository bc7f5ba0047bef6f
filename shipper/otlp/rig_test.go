package otlp

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

// Records of the rig: partition p holds the file /logs/p<p>.log of a pod
// (even p) or of the node (odd p); record i has body "p<p>-<i>", the time
// base+i µs, a level and a number.
const baseTime = 1_700_000_000_000_000_000

func body(p, i int) string { return fmt.Sprintf("p%d-%d", p, i) }

func filePath(p int) string { return fmt.Sprintf("/logs/p%d.log", p) }

var levels = []string{"info", "warn", "error", "debug"}

// add appends records from..from+n-1 of partition p in batches of per.
func (r *rig) add(p, from, n, per int) {
	r.t.Helper()
	src := []batch.Attr{batch.StringAttr("host.name", "node-1"), batch.StringAttr("input", "app"), batch.StringAttr("path", filePath(p))}
	if p%2 == 0 {
		src = append(src, batch.StringAttr("k8s.namespace.name", "shop"), batch.StringAttr("k8s.pod.name", fmt.Sprintf("pod-%d", p)))
	}
	var b batch.Builder
	for i := from; i < from+n; i += per {
		b.ResetV2(uint64(1000+p), baseTime+int64(i), src)
		for j := i; j < min(i+per, from+n); j++ {
			b.AddRecord(baseTime+int64(j)*1000, batch.KindString, []byte(body(p, j)),
				[]batch.Attr{batch.StringAttr("level", levels[j%4]), batch.IntAttr("n", int64(j))})
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
	c.Retry.Initial, c.Retry.Max = 5*time.Millisecond, 50*time.Millisecond
	c.DrainTimeout = 500 * time.Millisecond
	c.DeadLetter.Stream = "dead"
	if f != nil {
		f(c)
	}
	return c
}

func settings(t *testing.T) component.Settings {
	return component.Settings{ID: component.ID{Kind: component.KindOutput, Type: "otlp", Name: "out"},
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
	p := r.host.DeadLetter.Partition(0)
	rd := p.NewReader(0)
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

// waitFor waits up to 30s for cond, failing with what it waited for.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	componenttest.WaitFor(t, 30*time.Second, what, cond)
}
