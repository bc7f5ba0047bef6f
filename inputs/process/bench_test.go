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

// benchChain measures one chain on one line, in wall and CPU time.
func benchChain(b *testing.B, chain string, line []byte) {
	c := chainOf(b, chain, Options{Streams: []string{"app", "debug"}, InputFields: []string{"*"}})
	rn := c.NewRunner()
	source := src("k8s.namespace.name", "shop", "k8s.pod.name", "api-7d9f")
	var r Record
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	start := cpuTime(b)
	for b.Loop() {
		r.Reset(1, line, source, "default")
		rn.Process(&r)
	}
	reportCPU(b, start)
}

var nginxLine = []byte(`203.0.113.9 - alice [01/May/2026:10:00:00 +0000] "GET /api/v1/users?page=2 HTTP/1.1" 200 5123 "https://example.com/" "Mozilla/5.0 (X11; Linux x86_64) Firefox/126.0"`)

func BenchmarkProcessors(b *testing.B) {
	logfmtLine := []byte(`ts=2026-05-01T10:00:00.123Z level=info caller=api/handler.go:42 msg="served GET /v1/users" status=200 duration_ms=12.5 trace_id=4bf92f3577b34da6 user=bob`)
	for _, bc := range []struct {
		name, chain string
		line        []byte
	}{
		{"empty", "[]", typicalLine},
		{"json", "- {type: json, merge: true}", typicalLine},
		{"logfmt", "- {type: logfmt}", logfmtLine},
		{"regex-nginx", "- type: regex\n  pattern: '" + nginxPattern + "'\n  types: {status: int, bytes: int}", nginxLine},
		{"timestamp-rfc3339", "- {type: json, merge: true}\n- {type: timestamp, field: ts, layouts: [rfc3339]}", typicalLine},
		{"filter", "- {type: filter, drop_if: 'source[\"k8s.namespace.name\"] == \"kube-system\" || body contains \"/healthz\"'}", typicalLine},
		{"set-template", "- {type: set, field: origin, value: '${k8s.namespace.name}/${k8s.pod.name}'}", typicalLine},
		{"redact-all-detectors", "- {type: redact}", typicalLine},
		{"redact-hash", "- {type: redact, detectors: [email], action: hash, hash_key: 0123456789abcdef}", typicalLine},
		{"throttle", "- {type: throttle, rate: 1e9, burst: 1000000000, key: 'source[\"k8s.namespace.name\"]'}", typicalLine},
		{"sample", "- {type: sample, rate: 1, key: 'source[\"k8s.pod.name\"]'}", typicalLine},
	} {
		b.Run(bc.name, func(b *testing.B) { benchChain(b, bc.chain, bc.line) })
	}
}
