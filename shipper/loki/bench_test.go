package loki

import (
	"fmt"
	"strings"
	"testing"

	"github.com/klauspost/compress/s2"
	"go.uber.org/zap"

	"github.com/capstan-agent/capstan/shipper/delivery"
	"github.com/capstan-agent/capstan/spool"
	"github.com/capstan-agent/capstan/spool/batch"
)

// benchRecords is a batch of n 200-byte lines with the file input's source
// attributes.
func benchRecords(b *testing.B, n int) []byte {
	var bd batch.Builder
	bd.ResetV2(1, 1, []batch.Attr{batch.StringAttr("input", "app"), batch.StringAttr("log.file.path", "/var/log/app.log"),
		batch.StringAttr("host.name", "edge-1")})
	for i := range n {
		l := fmt.Sprintf("2026-05-01T10:00:00.000Z level=info line=%09d msg=", i)
		bd.AddRecord(1_777_000_000_000_000_000+int64(i), batch.KindString, []byte(l+strings.Repeat("x", 199-len(l))), nil)
	}
	return bd.Bytes()
}

// BenchmarkEncode: Key and Encode of one record, as a lane calls them
// (go test -run '^$' -bench . -benchmem ./shipper/loki).
func BenchmarkEncode(b *testing.B) {
	for _, json := range []bool{false, true} {
		b.Run(map[bool]string{false: "protobuf", true: "json"}[json], func(b *testing.B) {
			raw := benchRecords(b, 1000)
			lb := newLabeler(DefaultLabels, nil, 1000, zap.NewNop())
			enc := &encoder{labeler: lb, json: json, meta: true}
			req := &delivery.Request{}
			b.ReportAllocs()
			b.ResetTimer()
			n := 0
			for n < b.N {
				req.Body = req.Body[:0]
				delivery.ForEachRecord(raw, 0, spool.Key{Stream: "s"}, func(rec *delivery.Record) error {
					if n >= b.N {
						return nil
					}
					n++
					lb.Key(rec)
					return enc.Encode(req, rec)
				})
			}
		})
	}
}

// BenchmarkSnappy: a 1 MiB push of 200-byte lines compressed, per line.
func BenchmarkSnappy(b *testing.B) {
	raw := benchRecords(b, 4000)
	lb := newLabeler(DefaultLabels, nil, 1000, zap.NewNop())
	enc := &encoder{labeler: lb, meta: true}
	req := &delivery.Request{}
	delivery.ForEachRecord(raw, 0, spool.Key{Stream: "s"}, func(rec *delivery.Record) error { return enc.Encode(req, rec) })
	push := appendPush(nil, `{host="edge-1", job="app"}`, req.Body)
	var dst []byte
	b.SetBytes(int64(len(push)))
	b.ReportAllocs()
	for b.Loop() {
		dst = s2.EncodeSnappy(dst[:cap(dst)], push)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/4000, "ns/line")
}
