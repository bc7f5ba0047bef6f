package process

import (
	"syscall"
	"testing"
)

// cpuTime is the process's user+system CPU time in nanoseconds: on a
// shared machine, wall time per operation includes waiting for a core.
func cpuTime(b *testing.B) int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatalf("getrusage: %v", err)
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// reportCPU adds cpu-ns/op, measured from start.
func reportCPU(b *testing.B, start int64) {
	b.ReportMetric(float64(cpuTime(b)-start)/float64(b.N), "cpu-ns/op")
}

// typicalChain is the chain docs/performance.md measures: a container's
// JSON log parsed into fields, two field operations, a filter and a redact.
const typicalChain = `
- type: json
  merge: true
  body_from: msg
- type: rename
  from: lvl
  to: level
- type: delete
  fields: [caller]
- type: filter
  drop_if: 'attrs["level"] == "debug"'
- type: redact
  detectors: [email, bearer, jwt]
`

// typicalLine is 200 bytes of a service's JSON log.
var typicalLine = []byte(`{"lvl":"info","ts":"2026-05-01T10:00:00.123Z","caller":"api/handler.go:42","msg":"served GET /v1/users for bob@example.com","status":200,"duration_ms":12.5,"trace_id":"4bf92f3577b34da6"}`)

func BenchmarkTypicalChain(b *testing.B) {
	c := chainOf(b, typicalChain, Options{})
	rn := c.NewRunner()
	source := src("k8s.namespace.name", "shop", "k8s.pod.name", "api-7d9f")
	var r Record
	b.SetBytes(int64(len(typicalLine)))
	b.ReportAllocs()
	start := cpuTime(b)
	for b.Loop() {
		r.Reset(1, typicalLine, source, "default")
		if res := rn.Process(&r); !res.Kept() {
			b.Fatal("dropped")
		}
	}
	reportCPU(b, start)
}
