package elasticsearch

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/capstan-agent/capstan/shipper/delivery"
	"github.com/capstan-agent/capstan/shipper/httpc"
	"github.com/capstan-agent/capstan/spool"
	"github.com/capstan-agent/capstan/spool/batch"
)

// benchBatch is 1,000 200-byte lines of a Kubernetes pod's file, as the
// file input spools them (with three typed attributes, as a parser adds).
func benchBatch(b *testing.B, attrs bool) []byte {
	src := []batch.Attr{batch.StringAttr("host.name", "node-1"), batch.StringAttr("input", "pods"),
		batch.StringAttr("k8s.container.name", "cart"), batch.StringAttr("k8s.namespace.name", "shop"),
		batch.StringAttr("k8s.pod.name", "cart-7d9"), batch.StringAttr("k8s.pod.uid", "0f0e"),
		batch.StringAttr("path", "/var/log/pods/shop_cart-7d9_0f0e/cart/0.log")}
	var bb batch.Builder
	bb.ResetV2(77, 1_700_000_000_000_000_000, src)
	pad := strings.Repeat("x", 200)
	for i := range 1000 {
		var a []batch.Attr
		if attrs {
			a = []batch.Attr{batch.StringAttr("level", "info"), batch.IntAttr("status", 200), batch.FloatAttr("ms", 1.25)}
		}
		bb.AddRecord(1_700_000_000_000_000_000+int64(i), batch.KindString,
			[]byte(fmt.Sprintf("2026-05-01T10:00:00Z GET /api/v1/items/%06d 200 %s", i, pad)[:199]), a)
	}
	bb.SetSequence(1 << 20)
	return append([]byte(nil), bb.Bytes()...)
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkEncode: a record into a bulk request (create action with the
// derived _id, the index of its day, the document); per record.
func BenchmarkEncode(b *testing.B) {
	for _, tc := range []struct {
		name  string
		attrs bool
		index string
	}{{"daily-index", false, DefaultIndex}, {"daily-index-3attrs", true, DefaultIndex}, {"field-index", false, "logs-${k8s.namespace.name}-%Y.%m.%d"}} {
		b.Run(tc.name, func(b *testing.B) {
			raw := benchBatch(b, tc.attrs)
			idx, err := parseIndex(tc.index)
			if err != nil {
				b.Fatal(err)
			}
			enc := &encoder{index: idx}
			req := &delivery.Request{}
			var recs int
			b.ReportAllocs()
			b.ResetTimer()
			cpu := cpuTime()
			for n := 0; n < b.N; {
				req.Body = req.Body[:0]
				delivery.ForEachRecord(raw, 0, spool.Key{Stream: "default"}, func(r *delivery.Record) error {
					recs++
					return enc.Encode(req, r)
				})
				n += 1000
			}
			b.ReportMetric(float64(cpuTime()-cpu)/float64(recs), "cpu-ns/record")
			b.ReportMetric(float64(len(req.Body))/1000, "bytes/record")
		})
	}
}

// BenchmarkCompress: a 1,000-record bulk body gzipped, per record.
func BenchmarkCompress(b *testing.B) {
	raw := benchBatch(b, true)
	idx, _ := parseIndex(DefaultIndex)
	enc := &encoder{index: idx}
	req := &delivery.Request{}
	delivery.ForEachRecord(raw, 0, spool.Key{Stream: "default"}, func(r *delivery.Record) error { return enc.Encode(req, r) })
	c, _ := httpc.NewCompressor(httpc.Gzip, 1)
	defer c.Close()
	var out []byte
	b.ReportAllocs()
	b.ResetTimer()
	cpu := cpuTime()
	for range b.N {
		out = c.Append(out[:0], req.Body)
	}
	b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N)/1000, "cpu-ns/record")
	b.ReportMetric(float64(len(req.Body))/float64(len(out)), "ratio")
}
