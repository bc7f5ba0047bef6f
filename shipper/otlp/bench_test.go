package otlp

import (
	"fmt"
	"strings"
	"syscall"
	"testing"

	"github.com/capstan-agent/capstan/shipper/httpc"
	"github.com/capstan-agent/capstan/spool"
	"github.com/capstan-agent/capstan/spool/batch"
)

// benchBatch is 1,000 200-byte lines of a Kubernetes pod's file, each with a
// parsed level, as the file input and a json processor spool them.
func benchBatch(attrs bool) testBatch {
	tb := testBatch{part: spool.Key{Stream: "default"}, producer: 77, sequence: 1 << 20, observed: 1_700_000_000_000_000_000, src: podSrc}
	pad := strings.Repeat("x", 200)
	for i := range 1000 {
		r := testRecord{ts: 1_700_000_000_000_000_000 + int64(i), body: fmt.Sprintf("2026-05-01T10:00:00Z GET /api/v1/items/%06d 200 %s", i, pad)[:199]}
		if attrs {
			r.attrs = []batch.Attr{batch.StringAttr("level", "info"), batch.IntAttr("status", 200), batch.FloatAttr("ms", 1.25)}
		}
		tb.recs = append(tb.recs, r)
	}
	return tb
}

// BenchmarkEncode: a record into a request (LogRecord, Resource lookup,
// log.record.uid), then the request's assembly; per record.
func BenchmarkEncode(b *testing.B) {
	for _, tc := range []struct {
		name        string
		json, attrs bool
	}{{"protobuf", false, false}, {"protobuf-3attrs", false, true}, {"json", true, false}, {"json-3attrs", true, true}} {
		b.Run(tc.name, func(b *testing.B) {
			m := testMapping(tc.json)
			tb := benchBatch(tc.attrs)
			var views []view
			bt, _, _ := batch.Decode(tb.bytes(b))
			it := bt.Records()
			recs := make([]batch.Record, tb.count()+1)
			for i := 0; i < tb.count() && it.Next(&recs[i]); i++ {
				views = append(views, view{Record: &recs[i], src: bt.SourceAttrs(), part: tb.part, producer: bt.Producer,
					sequence: bt.Sequence, index: i, count: len(recs)})
			}
			s := &reqState{}
			var body, payload []byte
			b.ReportAllocs()
			b.ResetTimer()
			cpu := cpuTime()
			for n := 0; n < b.N; {
				s.reset()
				body = body[:0]
				for i := range views {
					body = m.encode(body, s, &views[i])
				}
				payload = m.payload(payload, body, s)
				n += len(views)
			}
			b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/record")
			b.ReportMetric(float64(len(payload))/float64(len(views)), "bytes/record")
		})
	}
}

func (tb testBatch) count() int { return len(tb.recs) }

// BenchmarkCompress: a 1,000-record protobuf request compressed, per record.
func BenchmarkCompress(b *testing.B) {
	m := testMapping(false)
	payload, _ := encodeRequest(b, m, benchBatch(true))
	for _, name := range []string{httpc.Gzip, httpc.Zstd} {
		b.Run(name, func(b *testing.B) {
			c, _ := httpc.NewCompressor(name, 1)
			defer c.Close()
			var out []byte
			b.ReportAllocs()
			b.ResetTimer()
			cpu := cpuTime()
			for n := 0; n < b.N; n += 1000 {
				out = c.Append(out[:0], payload)
			}
			b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/record")
			b.ReportMetric(float64(len(payload))/float64(len(out)), "ratio")
		})
	}
}

// cpuTime is the CPU the process used so far (user and system), in ns: on
// a loaded machine it is what a benchmark costs, where wall time is not.
func cpuTime() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}
