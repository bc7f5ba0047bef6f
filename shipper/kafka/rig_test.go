package kafka

import (
	"context"
	"fmt"
	"testing"
	"time"

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

// rig is a spool with a stream "app" read by the output and a stream
// "dead" for its dead letters.
type rig struct {
	t    testing.TB
	sp   *spool.Spool
	st   *spool.Stream
	host *componenttest.Host
}

func newRig(t testing.TB, partitions int) *rig {
	sp := spooltest.Open(t, t.TempDir(), spool.Options{}, map[string]int{"app": partitions, "dead": 1})
	h := componenttest.NewHost(sp, "out")
	st := spooltest.Stream(t, sp, "app")
	h.StreamsRead = []*spool.Stream{st}
	h.DeadLetter = spooltest.Stream(t, sp, "dead")
	return &rig{t: t, sp: sp, st: st, host: h}
}

const baseTime = 1_700_000_000_000_000_000

func body(p, i int) string { return fmt.Sprintf("p%d-%d", p, i) }

// add appends records from..from+n-1 of partition p in batches of per:
// source attributes name the pod (pod-<p>) and namespace, each record has a
// level and a number.
func (r *rig) add(p, from, n, per int) {
	r.t.Helper()
	r.addBodies(p, from, n, per, func(i int) string { return body(p, i) })
}

func (r *rig) addBodies(p, from, n, per int, bodyOf func(i int) string) {
	r.t.Helper()
	src := []batch.Attr{batch.StringAttr("host.name", "node-1"), batch.StringAttr("k8s.namespace.name", "shop"),
		batch.StringAttr("k8s.pod.name", fmt.Sprintf("pod-%d", p))}
	var b batch.Builder
	for i := from; i < from+n; i += per {
		b.ResetV2(uint64(1000+p), baseTime+int64(i), src)
		for j := i; j < min(i+per, from+n); j++ {
			b.AddRecord(baseTime+int64(j)*1000, batch.KindString, []byte(bodyOf(j)),
				[]batch.Attr{batch.StringAttr("level", []string{"info", "warn"}[j%2]), batch.IntAttr("n", int64(j))})
		}
		b.SetSequence(uint64(min(i+per, from+n)))
		if _, err := r.st.Partition(p).Append(context.Background(), b.Bytes()); err != nil {
			r.t.Fatal(err)
		}
	}
}

func testConfig(brokers []string, f func(c *Config)) *Config {
	c := &Config{}
	conf.ApplyDefaults(c)
	c.Brokers, c.Topic, c.Key = brokers, "logs", "k8s.pod.name"
	c.Retry.Initial, c.Retry.Max = 5*time.Millisecond, 50*time.Millisecond
	c.Timeout = 10 * time.Second
	c.DrainTimeout = 2 * time.Second
	c.DeadLetter.Stream = "dead"
	if f != nil {
		f(c)
	}
	return c
}

func settings(t testing.TB) component.Settings {
	return component.Settings{ID: component.ID{Kind: component.KindOutput, Type: "kafka", Name: "out"},
		Logger: zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)), StartAt: "oldest"}
}

// run runs an output of c until the test ends or stop is called; it does
// not wait for the output to be ready when ready is false.
func (r *rig) run(c *Config, ready bool) (e *delivery.Engine, stop func() error) {
	r.t.Helper()
	e, err := New(settings(r.t), c)
	if err != nil {
		r.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx, r.host) }()
	if ready {
		select {
		case <-r.host.Readied():
		case err := <-done:
			cancel()
			r.t.Fatalf("output returned before it was ready: %v", err)
		case <-time.After(30 * time.Second):
			cancel()
			r.t.Fatal("output not ready after 30s")
		}
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

// deadLetters reads the dead-letter stream: body → reason.
func (r *rig) deadLetters() map[string]string {
	r.t.Helper()
	out := map[string]string{}
	rd := r.host.DeadLetter.Partition(0).NewReader(0)
	for {
		rg, err := rd.Next(4 << 20)
		if err != nil {
			return out
		}
		b := make([]byte, rg.Len)
		rg.File.ReadAt(b, rg.Pos)
		if err := delivery.ForEachRecord(b, 0, spool.Key{Stream: "dead"}, func(rec *delivery.Record) error {
			at := rec.Attrs()
			for a, ok := at.NextAttr(); ok; a, ok = at.NextAttr() {
				if string(a.Key) == delivery.AttrDeadLetterReason {
					out[string(rec.Body)] = string(a.Value)
				}
			}
			return nil
		}); err != nil {
			r.t.Fatal(err)
		}
	}
}

// waitFor waits up to 60s for cond, failing with what it waited for.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after 60s still waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
