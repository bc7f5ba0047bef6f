package kafka

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/capstan-agent/capstan/shipper/delivery"
	"github.com/capstan-agent/capstan/shipper/kafka/kafkatest"
	"github.com/capstan-agent/capstan/spool"
	"github.com/capstan-agent/capstan/spool/batch"
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
				waitFor(r.t, "every record committed", func() bool { return r.Committed(0) == uint64(b.N) })
				el := time.Since(start)
				b.StopTimer()
				reqs := (b.N + per - 1) / per
				b.ReportMetric(float64(el.Microseconds())/1000/float64(reqs), "ms/request")
				b.ReportMetric(float64(b.N)/el.Seconds()/1e6, "Mlines/s")
			})
		}
	}
}

// BenchmarkEncode: a record of a pod's file into a request (JSON value,
// key, two headers) and its Kafka record view, without allocating.
//
//	go test -run '^$' -bench Encode -benchmem ./shipper/kafka
func BenchmarkEncode(b *testing.B) {
	var bb batch.Builder
	bb.ResetV2(7, baseTime, []batch.Attr{batch.StringAttr("host.name", "node-1"), batch.StringAttr("k8s.namespace.name", "shop"),
		batch.StringAttr("k8s.pod.name", "cart-7d9f"), batch.StringAttr("log.file.path", "/var/log/pods/shop_cart/0.log")})
	line := []byte("2026-05-01T10:00:00.000Z level=info line=000000001 msg=" + strings.Repeat("x", 144))
	for i := range 1000 {
		bb.AddRecord(baseTime+int64(i), batch.KindString, line, []batch.Attr{batch.StringAttr("level", "info")})
	}
	raw := bb.Bytes()
	for _, json := range []bool{false, true} {
		b.Run(fmt.Sprintf("json=%v", json), func(b *testing.B) {
			enc := &encoder{topic: mustTopic(b, "logs-${k8s.namespace.name}"), key: "k8s.pod.name", headers: []string{"level", "k8s.pod.name"}, json: json}
			req := &delivery.Request{}
			encode := func(rec *delivery.Record) error {
				if err := enc.Encode(req, rec); err != nil {
					return err
				}
				req.Data.(*reqState).records(req, 1<<20)
				req.Body = req.Body[:0]
				return nil
			}
			delivery.ForEachRecord(raw, 0, spool.Key{Stream: "app"}, encode) // grow the buffers
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if err := delivery.ForEachRecord(raw, 0, spool.Key{Stream: "app"}, encode); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1000, "ns/record")
		})
	}
}
