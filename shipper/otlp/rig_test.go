package otlp

import (
	"fmt"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/capstan-agent/capstan/component"
	"github.com/capstan-agent/capstan/component/componenttest"
	"github.com/capstan-agent/capstan/component/conf"
	"github.com/capstan-agent/capstan/shipper/delivery"
	"github.com/capstan-agent/capstan/shipper/delivery/deliverytest"
	"github.com/capstan-agent/capstan/spool/batch"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// rig is deliverytest's: a spool with a stream "app" read by the output
// and a stream "dead" for its dead letters.
type rig struct {
	*deliverytest.Rig
	t *testing.T
}

func newRig(t *testing.T, partitions int) *rig {
	return &rig{Rig: deliverytest.NewRig(t, partitions), t: t}
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
	r.Add(p, from, n, per, deliverytest.Batches{
		Source: src,
		Time:   func(i int) int64 { return baseTime + int64(i) },
		Record: func(j int) (int64, string, []batch.Attr) {
			return baseTime + int64(j)*1000, body(p, j), []batch.Attr{batch.StringAttr("level", levels[j%4]), batch.IntAttr("n", int64(j))}
		},
	})
}

func testConfig(endpoint string, f func(c *Config)) *Config {
	c := &Config{}
	conf.ApplyDefaults(c)
	c.Endpoint = endpoint
	deliverytest.Configure(&c.Config)
	if f != nil {
		f(c)
	}
	return c
}

func settings(t *testing.T) component.Settings { return deliverytest.Settings(t, "otlp") }

// run runs an output of c until the test ends or stop is called.
func (r *rig) run(c *Config) (e *delivery.Engine, stop func() error) {
	r.t.Helper()
	e, err := New(settings(r.t), c)
	if err != nil {
		r.t.Fatal(err)
	}
	return e, r.Run(e, 20*time.Second)
}

// waitFor waits up to 30s for cond, failing with what it waited for.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	componenttest.WaitFor(t, 30*time.Second, what, cond)
}
