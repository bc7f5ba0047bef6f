package loki

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

// rig is deliverytest's: a spool with stream "app" read by the output and
// "dead" its dead letter.
type rig struct {
	*deliverytest.Rig
	t *testing.T
}

func newRig(t *testing.T, partitions int) *rig {
	return &rig{Rig: deliverytest.NewRig(t, partitions), t: t}
}

// base is the time of record 0: recent enough for Loki's
// reject_old_samples.
var base = time.Now().Add(-time.Hour).Truncate(time.Second).UnixNano()

func line(p, i int) string { return fmt.Sprintf("p%d-%06d", p, i) }

// app of record i: one of three, so a partition feeds three streams.
func app(i int) string { return fmt.Sprintf("app%d", i%3) }

// baseTime is the base time of every batch.
func baseTime(int) int64 { return base }

// add appends records from..from+n-1 of partition p in batches of per:
// record i has time base+i ms, attributes app and trace_id; its source
// host h<p> and input "files".
func (r *rig) add(p, from, n, per int) {
	r.t.Helper()
	r.Add(p, from, n, per, deliverytest.Batches{
		Source: []batch.Attr{batch.StringAttr("host.name", fmt.Sprintf("h%d", p)), batch.StringAttr("input", "files")},
		Time:   baseTime,
		Record: func(j int) (int64, string, []batch.Attr) {
			return base + int64(j)*int64(time.Millisecond), line(p, j),
				[]batch.Attr{batch.StringAttr("app", app(j)), batch.StringAttr("trace_id", fmt.Sprintf("t%d", j))}
		},
	})
}

func testConfig(endpoint string, f func(c *Config)) *Config {
	c := &Config{}
	conf.ApplyDefaults(c)
	c.Endpoint = endpoint
	c.Labels = map[string]string{"app": "app", "host": "host.name"}
	deliverytest.Configure(&c.Config)
	if f != nil {
		f(c)
	}
	return c
}

func (r *rig) run(c *Config) *delivery.Engine {
	r.t.Helper()
	e, err := New(deliverytest.Settings(r.t, "loki"), c)
	if err != nil {
		r.t.Fatal(err)
	}
	componenttest.RunOutput(r.t, e, r.Host)
	return e
}

// waitFor polls cond for up to 30s; what says what it waits for.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	componenttest.WaitFor(t, 30*time.Second, what, cond)
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
	r.Add(p, 0, n, n, deliverytest.Batches{
		Producer: uint64(2000 + p),
		Source:   []batch.Attr{batch.StringAttr("host.name", fmt.Sprintf("h%d", p))},
		Time:     baseTime,
		Record: func(j int) (int64, string, []batch.Attr) {
			return base + int64(j)*int64(time.Millisecond), line(p, j), nil
		},
	})
}
