package elasticsearch

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/capstan-agent/capstan/component"
	"github.com/capstan-agent/capstan/component/componenttest"
	"github.com/capstan-agent/capstan/component/conf"
	"github.com/capstan-agent/capstan/shipper/delivery"
	"github.com/capstan-agent/capstan/shipper/delivery/deliverytest"
	"github.com/capstan-agent/capstan/shipper/elasticsearch/esfake"
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

// baseTime is 2023-11-14T22:13:20Z.
const baseTime = 1_700_000_000_000_000_000

func body(p, i int) string { return fmt.Sprintf("p%d-%d", p, i) }

// add appends records from..from+n-1 of partition p in batches of per:
// record i has body p<p>-<i>, the time base+i ms, a level and a number.
func (r *rig) add(p, from, n, per int) {
	r.t.Helper()
	r.Add(p, from, n, per, deliverytest.Batches{
		Source: []batch.Attr{batch.StringAttr("host.name", "node-1"), batch.StringAttr("path", fmt.Sprintf("/logs/p%d.log", p))},
		Time:   func(i int) int64 { return baseTime + int64(i) },
		Record: func(j int) (int64, string, []batch.Attr) {
			return baseTime + int64(j)*1e6, body(p, j), []batch.Attr{batch.StringAttr("level", "info"), batch.IntAttr("n", int64(j))}
		},
	})
}

func testConfig(url string, f func(c *Config)) *Config {
	c := &Config{}
	conf.ApplyDefaults(c)
	c.Endpoints = []string{url}
	deliverytest.Configure(&c.Config)
	if f != nil {
		f(c)
	}
	return c
}

func settings(t *testing.T) component.Settings { return deliverytest.Settings(t, "elasticsearch") }

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
