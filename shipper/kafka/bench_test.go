package kafka

import (
	"fmt"
	"testing"
	"time"

	"github.com/capstan-agent/capstan/shipper/kafka/kafkatest"
)

// BenchmarkRequest measures what a request costs from the engine's send to
// its commit, one partition of the spool (so one request in flight), into a
// kfake cluster in its own process: without and with a transaction, for
// small and full requests of 200-byte records. ms/request is the latency a
// transaction adds; lines/s what one spool partition can carry.
//
//	go test -run '^$' -bench Request -benchtime 20000x ./shipper/kafka
func BenchmarkRequest(b *testing.B) {
	c := kafkatest.Start(b, kafkatest.Options{Topics: map[string]int32{"logs": 4}})
	for _, per := range []int{100, 5000} {
		for _, eos := range []bool{false, true} {
			b.Run(fmt.Sprintf("records=%d/exactly_once=%v", per, eos), func(b *testing.B) {
				r := newRig(b, 1)
				pad := make([]byte, 190)
				for i := range pad {
					pad[i] = 'x'
				}
				r.addBodies(0, 0, b.N, 1000, func(i int) string { return fmt.Sprintf("%09d %s", i, pad) })
				cfg := testConfig(c.Brokers, func(cfg *Config) {
					cfg.ExactlyOnce, cfg.Encoding, cfg.Batch.MaxRecords = eos, EncodingRaw, per
				})
				b.ResetTimer()
				start := time.Now()
				r.run(cfg, true)
				waitFor(r.t, "every record committed", func() bool { return r.committed(0) == uint64(b.N) })
				el := time.Since(start)
				b.StopTimer()
				reqs := (b.N + per - 1) / per
				b.ReportMetric(float64(el.Microseconds())/1000/float64(reqs), "ms/request")
				b.ReportMetric(float64(b.N)/el.Seconds()/1e6, "Mlines/s")
			})
		}
	}
}
