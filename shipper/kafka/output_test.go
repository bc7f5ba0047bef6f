package kafka

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/capstan-agent/capstan/shipper/kafka/kafkatest"
)

const readFor = 30 * time.Second

// byPod groups values by record key, in the order Kafka holds them.
func byPod(recs []*kgo.Record) map[string][]string {
	out := map[string][]string{}
	for _, r := range recs {
		out[string(r.Key)] = append(out[string(r.Key)], string(r.Value))
	}
	return out
}

func TestDelivers(t *testing.T) {
	c := kafkatest.Start(t, kafkatest.Options{Topics: map[string]int32{"logs": 3}})
	for _, tc := range []struct {
		name string
		set  func(c *Config)
	}{
		{"at least once", nil},
		{"exactly once", func(c *Config) { c.ExactlyOnce = true }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			topic := "logs-" + map[bool]string{false: "alo", true: "eos"}[tc.set != nil]
			c.CreateTopic(topic, 3, nil)
			r := newRig(t, 2)
			const n = 3000
			r.add(0, 0, n, 100)
			r.add(1, 0, n, 100)
			cfg := testConfig(c.Brokers, func(cfg *Config) {
				cfg.Topic, cfg.Encoding = topic, EncodingRaw
				cfg.Batch.MaxRecords = 250
				cfg.Headers = []string{"level", "k8s.*"}
				if tc.set != nil {
					tc.set(cfg)
				}
			})
			r.run(cfg, true)
			waitFor(t, "every record committed", func() bool { return r.Committed(0) == n && r.Committed(1) == n })
			recs := c.ReadAll(topic, kafkatest.ReadCommitted, readFor)
			got := byPod(recs)
			for p := range 2 {
				want := make([]string, n)
				for i := range want {
					want[i] = body(p, i)
				}
				if !slices.Equal(got[fmt.Sprintf("pod-%d", p)], want) {
					t.Errorf("pod-%d: %d records, want %d in order", p, len(got[fmt.Sprintf("pod-%d", p)]), n)
				}
			}
			r0 := recs[0]
			hdr := map[string]string{}
			for _, h := range r0.Headers {
				hdr[h.Key] = string(h.Value)
			}
			if hdr["k8s.namespace.name"] != "shop" || hdr["level"] == "" || hdr["host.name"] != "" {
				t.Errorf("headers %v: want level and k8s.* only", hdr)
			}
			if r0.Timestamp.UnixNano()/1e6 < baseTime/1e6 {
				t.Errorf("timestamp %v is not the record's", r0.Timestamp)
			}
		})
	}
}
