package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestProcessAndTestCommands runs `capstan process` and `capstan test` as a
// user would: a configuration whose input parses JSON, drops health checks
// and routes by level; sample lines on a file; a unit-test file that holds,
// and one that does not.
func TestProcessAndTestCommands(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "capstan.yaml")
	os.WriteFile(cfg, []byte(`data_dir: `+filepath.Join(dir, "data")+`
streams: {app: {}, debug: {}}
inputs:
  web:
    type: file
    include: [`+filepath.Join(dir, "*.log")+`]
    stream: app
    processors:
      - {type: json, merge: true}
      - {type: filter, drop_if: 'attrs["path"] == "/healthz"'}
      - {type: route, cases: [{stream: debug, if: 'attrs["level"] == "debug"'}]}
outputs:
  o: {type: stdout, streams: [app, debug]}
`), 0o644)
	sample := filepath.Join(dir, "sample.txt")
	os.WriteFile(sample, []byte(`{"msg":"served","level":"info","status":200}
{"msg":"probe","path":"/healthz"}
{"msg":"cache miss","level":"debug"}
not json
`), 0o644)

	r := capstan(t, dir, env(), "process", "-c", cfg, sample)
	if r.code != 0 {
		t.Fatalf("process: exit %d\n%s", r.code, r.stderr)
	}
	var got []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("process printed %q: %v", line, err)
		}
		got = append(got, m)
	}
	if len(got) != 4 {
		t.Fatalf("process printed %d records, want 4:\n%s", len(got), r.stdout)
	}
	fields := func(i int) map[string]any { f, _ := got[i]["fields"].(map[string]any); return f }
	checks := []struct {
		what string
		ok   bool
	}{
		{"line 1 in app with its fields", got[0]["stream"] == "app" && fields(0)["msg"] == "served" && fields(0)["status"] == float64(200)},
		{"line 2 dropped by the filter", got[1]["dropped"] == "filter"},
		{"line 3 routed to debug", got[2]["stream"] == "debug"},
		{"line 4 kept and flagged", got[3]["stream"] == "app" && got[3]["body"] == "not json" && fields(3)["capstan.parse_error"] != nil},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("%s:\n%s", c.what, r.stdout)
		}
	}

	pass := filepath.Join(dir, "pass.yaml")
	os.WriteFile(pass, []byte(`tests:
  - name: health checks and debug
    input: web
    lines:
      - '{"msg":"probe","path":"/healthz"}'
      - '{"msg":"cache miss","level":"debug"}'
    expect:
      - dropped: filter
      - stream: debug
        fields: {msg: cache miss, level: debug}
`), 0o644)
	if r := capstan(t, dir, env(), "test", "-c", cfg, pass); r.code != 0 {
		t.Errorf("test of a passing file: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	fail := filepath.Join(dir, "fail.yaml")
	os.WriteFile(fail, []byte(`tests:
  - name: wrong expectation
    input: web
    lines: ['{"msg":"served","status":200}']
    expect:
      - fields: {status: "200"}
`), 0o644)
	r = capstan(t, dir, env(), "test", "-c", cfg, fail)
	if r.code != 1 || !strings.Contains(r.stdout+r.stderr, "FAIL wrong expectation") || !strings.Contains(r.stdout+r.stderr, "status") {
		t.Errorf("test of a failing file: exit %d, want 1 and the difference\n%s%s", r.code, r.stdout, r.stderr)
	}
}
