package process

import (
	"testing"
	"time"
)

// TestSteadyStateAllocations: once a runner's buffers have grown, a record
// costs no allocation in any processor but regex (Go's regexp allocates
// its match) and the expression's slow path (attrs as a whole map).
func TestSteadyStateAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under the race detector")
	}
	clock := func() time.Time { return time.Unix(1000, 0) }
	line := `{"level":"info","ts":"2026-05-01T10:00:00.123Z","msg":"user bob@example.com logged in","n":12,"f":0.25,"http":{"status":200},"tags":["a"]}`
	cases := []struct {
		name, chain string
		body        string
		allocs      float64
	}{
		{"typical chain", typicalChain, string(typicalLine), 0},
		{"json flatten", "- {type: json, merge: true}", line, 0},
		{"json to a target", "- {type: json, target: p}", line, 0},
		{"logfmt", "- {type: logfmt, types: {n: int}}", `level=info msg="a \"b\"" n=12 ok`, 0},
		{"timestamps", `
- {type: json, merge: true}
- {type: timestamp, field: ts, layouts: [epoch_s, common_log, rfc3339], timezone: Europe/Berlin}`, line, 0},
		{"field steps", `
- {type: json, merge: true}
- {type: rename, from: level, to: lvl}
- {type: copy, from: msg, to: m}
- {type: delete, fields: [n, 'http.*']}
- {type: set, field: pod, value: '${k8s.pod.name}/${lvl}'}
- {type: set, field: big, expression: 'attrs.f > 0.1 && source["k8s.pod.name"] startsWith "api"'}
- {type: keep, fields: [lvl, m, pod, big]}`, line, 0},
		{"filter and route", `
- {type: json, merge: true}
- {type: filter, keep_if: 'attrs.level in ["info", "warn"] && attrs.n >= 10 && body contains "bob"'}
- type: route
  cases: [{if: 'attrs["http.status"] >= 500', stream: errors}]
  default: app
- {type: route, expression: 'attrs.level == "info" ? "app" : "errors"'}`, line, 0},
		{"redact mask and hash", `
- {type: json, merge: true}
- {type: redact}
- {type: redact, detectors: [email, card], action: hash, hash_key: 0123456789abcdef, body: false}`, line, 0},
		{"throttle and sample", `
- {type: throttle, rate: 1e9, burst: 1000000000, key: 'source["k8s.pod.name"]'}
- {type: sample, rate: 1, key: 'source["k8s.pod.name"]'}
- {type: sample, rate: 1}`, line, 0},
		{"parse failures", "- {type: json, merge: true}\n- {type: logfmt}\n- {type: timestamp, field: nope, layouts: [rfc3339]}", "{not json", 0},
		{"regex: one allocation, its match", `- {type: regex, pattern: '"level":"(?P<level>\w+)"'}`, line, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := chainOf(t, tc.chain, Options{Streams: []string{"app", "errors", "default"}, Now: clock})
			rn := c.NewRunner()
			source := src("k8s.pod.name", "api-1")
			var r Record
			body := []byte(tc.body)
			run := func() {
				r.Reset(1, body, source, "default")
				rn.Process(&r)
			}
			for range 300 { // grow the buffers, pass a Flush
				run()
			}
			if got := testing.AllocsPerRun(1000, run); got > tc.allocs {
				t.Fatalf("%.2f allocations per record, want %v", got, tc.allocs)
			}
		})
	}
}
