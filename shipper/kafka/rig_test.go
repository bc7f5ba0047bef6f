package kafka

import (
	"fmt"
	"testing"
	"time"

	"github.com/capstan-agent/capstan/component"
	"github.com/capstan-agent/capstan/component/componenttest"
	"github.com/capstan-agent/capstan/component/conf"
	"github.com/capstan-agent/capstan/shipper/delivery"
	"github.com/capstan-agent/capstan/shipper/delivery/deliverytest"
	"github.com/capstan-agent/capstan/spool/batch"
)

// rig is deliverytest's: a spool with a stream "app" read by the output
// and a stream "dead" for its dead letters.
type rig struct {
	*deliverytest.Rig
	t testing.TB
}

func newRig(t testing.TB, partitions int) *rig {
	return &rig{Rig: deliverytest.NewRig(t, partitions), t: t}
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
	r.Add(p, from, n, per, deliverytest.Batches{
		Source: []batch.Attr{batch.StringAttr("host.name", "node-1"), batch.StringAttr("k8s.namespace.name", "shop"),
			batch.StringAttr("k8s.pod.name", fmt.Sprintf("pod-%d", p))},
		Time: func(i int) int64 { return baseTime + int64(i) },
		Record: func(j int) (int64, string, []batch.Attr) {
			return baseTime + int64(j)*1000, bodyOf(j),
				[]batch.Attr{batch.StringAttr("level", []string{"info", "warn"}[j%2]), batch.IntAttr("n", int64(j))}
		},
	})
}

func testConfig(brokers []string, f func(c *Config)) *Config {
	c := &Config{}
	conf.ApplyDefaults(c)
	c.Brokers, c.Topic, c.Key = brokers, "logs", "k8s.pod.name"
	deliverytest.Configure(&c.Config)
	c.Timeout = 10 * time.Second
	c.DrainTimeout = 2 * time.Second
	if f != nil {
		f(c)
	}
	return c
}

func settings(t testing.TB) component.Settings { return deliverytest.Settings(t, "kafka") }

// run runs an output of c until the test ends or stop is called; it does
// not wait for the output to be ready when ready is false.
func (r *rig) run(c *Config, ready bool) (e *delivery.Engine, stop func() error) {
	r.t.Helper()
	e, err := New(settings(r.t), c)
	if err != nil {
		r.t.Fatal(err)
	}
	within := 30 * time.Second
	if !ready {
		within = 0
	}
	return e, r.Run(e, within)
}

// deadLetters reads the dead-letter stream: body → reason.
func (r *rig) deadLetters() map[string]string {
	r.t.Helper()
	out := map[string]string{}
	for b, v := range r.DeadLetters() {
		out[b] = v[0]
	}
	return out
}

// waitFor waits up to 60s for cond, failing with what it waited for.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	componenttest.WaitFor(t, 60*time.Second, what, cond)
}
