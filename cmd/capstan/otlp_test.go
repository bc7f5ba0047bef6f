package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/capstan-agent/capstan/shipper/otlp/otlptest"
)

// criLines appends lines from..to-1 of a container's log in CRI format; the
// message is a JSON object with a level and a number, the time line i's.
func criLines(t *testing.T, path string, from, to int) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var b []byte
	for i := from; i < to; i++ {
		ts := time.Unix(0, otlpBaseTime+int64(i)*1000).UTC().Format(time.RFC3339Nano)
		b = fmt.Appendf(b, "%s stdout F {\"level\":%q,\"msg\":\"line %07d %s\",\"n\":%d}\n", ts, otlpLevels[i%4], i, strings.Repeat("x", 120), i)
		if len(b) > 1<<20 {
			f.Write(b)
			b = b[:0]
		}
	}
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
}

const otlpBaseTime = 1_777_000_000_000_000_000

var otlpLevels = []string{"info", "warn", "error", "debug"}

// TestOTLPEdgeCoreCollector: a container's log (CRI, JSON messages parsed
// by a processor) goes file → edge → forward → core → three otlp outputs
// (OTLP/HTTP protobuf, OTLP/HTTP JSON, OTLP/gRPC) into the OpenTelemetry
// Collector's own receiver. Each output delivers every record once, with
// its body, attributes, Resource (Kubernetes metadata from the path, the
// edge's host and node), times and severity, and the three agree record
// for record.
func TestOTLPEdgeCoreCollector(t *testing.T) {
	const n = 3000
	recv := otlptest.Start(t, otlptest.Options{})
	dir := t.TempDir()
	logFile := filepath.Join(dir, "pods", "shop_cart-7d9f_0f0e1d2c", "cart", "0.log")
	os.MkdirAll(filepath.Dir(logFile), 0o755)
	criLines(t, logFile, 0, n/2)
	port := freeTestPort(t)
	coreCfg := filepath.Join(dir, "core.yaml")
	os.WriteFile(coreCfg, []byte(fmt.Sprintf(`data_dir: %s
log: {format: json}
http: {address: "127.0.0.1:0"}
attributes: {host.name: core-1}
inputs:
  edges: {type: forward, listen: ["127.0.0.1:%d"]}
outputs:
  proto: {type: otlp, endpoint: "http://%s", headers: {x-output: proto}, batch: {max_records: 200}}
  json: {type: otlp, endpoint: "http://%s", encoding: json, compression: none, headers: {x-output: json}}
  grpc: {type: otlp, protocol: grpc, endpoint: "http://%s", compression: zstd, headers: {x-output: grpc}}
`, filepath.Join(dir, "core"), port, recv.HTTPAddr, recv.HTTPAddr, recv.GRPCAddr)), 0o644)
	edgeCfg := filepath.Join(dir, "edge.yaml")
	os.WriteFile(edgeCfg, []byte(fmt.Sprintf(`data_dir: %s
log: {format: json}
http: {address: "127.0.0.1:0"}
attributes: {host.name: edge-1, k8s.node.name: node-7}
inputs:
  pods:
    type: file
    include: [%q]
    format: cri
    start_at: beginning
    poll_interval: 50ms
    processors:
      - {type: json, merge: true, body_from: msg}
outputs:
  core: {type: forward, endpoints: ["127.0.0.1:%d"]}
`, filepath.Join(dir, "edge"), filepath.Join(dir, "pods", "*", "*", "*.log"), port)), 0o644)
	core := startAgent(t, dir, env(), "-c", coreCfg)
	core.waitLog("agent started")
	edge := startAgent(t, dir, env(), "-c", edgeCfg)
	edge.waitLog("agent started")
	criLines(t, logFile, n/2, n)
	recs := recv.Wait(3*n, 2*time.Minute)
	stopEdgeCore(t, edge, core)

	output := map[int]string{} // receiver request -> x-output
	for _, r := range recv.Requests() {
		if h := r.Headers["x-output"]; len(h) == 1 {
			output[r.Request] = h[0]
		}
	}
	by := map[string]map[string]otlptest.Record{} // output -> body -> record
	for _, r := range recs {
		o := output[r.Request]
		if by[o] == nil {
			by[o] = map[string]otlptest.Record{}
		}
		if _, dup := by[o][r.Body.Str]; dup {
			t.Errorf("%s: %s delivered twice", o, r.Body.Str)
		}
		by[o][r.Body.Str] = r
	}
	if len(by) != 3 {
		t.Fatalf("records came from outputs %v", keysOf(by))
	}
	for i := range n {
		b := fmt.Sprintf("line %07d %s", i, strings.Repeat("x", 120))
		first := ""
		for _, o := range []string{"proto", "json", "grpc"} {
			r, ok := by[o][b]
			if !ok {
				t.Fatalf("%s: line %d never arrived", o, i)
			}
			checkOTLPRecord(t, o, i, r, logFile)
			if s := r.String(); first == "" {
				first = s
			} else if s != first {
				t.Errorf("line %d: outputs disagree:\n%s\n%s", i, first, s)
			}
		}
	}
}

func keysOf[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func checkOTLPRecord(t *testing.T, output string, i int, r otlptest.Record, path string) {
	t.Helper()
	if r.TimeUnixNano != uint64(otlpBaseTime+int64(i)*1000) {
		t.Errorf("%s line %d: time %d, want the CRI time", output, i, r.TimeUnixNano)
	}
	if obs := time.Unix(0, int64(r.ObservedTimeUnixNano)); time.Since(obs) > time.Hour || time.Until(obs) > time.Minute {
		t.Errorf("%s line %d: observed %v, want when the edge read it", output, i, obs)
	}
	sev := map[string]int32{"info": 9, "warn": 13, "error": 17, "debug": 5}[otlpLevels[i%4]]
	if r.SeverityNumber != sev || r.SeverityText != otlpLevels[i%4] {
		t.Errorf("%s line %d: severity %d/%q", output, i, r.SeverityNumber, r.SeverityText)
	}
	res := r.Resource.Attributes.Map()
	for k, v := range map[string]string{"host.name": "edge-1", "k8s.node.name": "node-7", "k8s.namespace.name": "shop",
		"k8s.pod.name": "cart-7d9f", "k8s.pod.uid": "0f0e1d2c", "k8s.container.name": "cart", "log.file.path": path} {
		if res[k] != fmt.Sprintf("Str(%q)", v) {
			t.Errorf("%s line %d: resource %s lacks %s=%s", output, i, r.Resource.Attributes, k, v)
			break
		}
	}
	if nv, _ := r.Attributes.Get("n"); nv.Type != otlptest.TypeInt || nv.Int != int64(i) {
		t.Errorf("%s line %d: attributes %s", output, i, r.Attributes)
	}
	if r.Attributes.Str("input") != "pods" || len(r.Attributes.Str("log.record.uid")) != 26 {
		t.Errorf("%s line %d: attributes %s", output, i, r.Attributes)
	}
}

// TestOTLPKillWhileShipping: capstan (file → otlp) is SIGKILLed at random
// moments while it ships to the Collector's receiver. Nothing is lost; a
// record arrives more than once only if it was in a request in flight at a
// kill (at most concurrency × max_records per kill), and every copy carries
// the log.record.uid of its first.
func TestOTLPKillWhileShipping(t *testing.T) {
	if testing.Short() {
		t.Skip("runs an agent for a while")
	}
	lines, rounds := 60_000, 8
	const concurrency, maxRecords = 4, 500
	recv := otlptest.Start(t, otlptest.Options{NoGRPC: true})
	dir := t.TempDir()
	logFile := filepath.Join(dir, "app.log")
	cfg := filepath.Join(dir, "agent.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`data_dir: %s
log: {format: json}
http: {address: "127.0.0.1:0"}
inputs:
  app: {type: file, include: [%q], start_at: beginning, poll_interval: 50ms}
outputs:
  otel:
    type: otlp
    endpoint: "http://%s"
    concurrency: %d
    batch: {max_records: %d}
    retry: {initial: 20ms, max: 200ms}
`, filepath.Join(dir, "data"), logFile, recv.HTTPAddr, concurrency, maxRecords)), 0o644)
	written := 0
	appendLines := func(n int) {
		f, err := os.OpenFile(logFile, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		var b []byte
		for i := written; i < written+n; i++ {
			b = fmt.Appendf(b, "line %07d %s\n", i, strings.Repeat("y", 180))
		}
		f.Write(b)
		f.Close()
		written += n
	}
	appendLines(lines / 4)
	agent := startAgent(t, dir, env(), "-c", cfg)
	agent.waitLog("agent started")
	kills := 0
	per := (lines - written) / rounds
	for round := range rounds {
		if round == rounds-1 {
			per = lines - written
		}
		appendLines(per)
		time.Sleep(time.Duration(30+rand.IntN(300)) * time.Millisecond)
		agent.cmd.Process.Kill()
		agent.wait()
		kills++
		agent = startAgent(t, dir, env(), "-c", cfg)
		agent.waitLog("agent started")
	}
	// Every line at least once: wait for the count, then for the missing.
	var recs []otlptest.Record
	deadline := time.Now().Add(2 * time.Minute)
	for {
		recs = recv.Wait(lines, time.Until(deadline))
		distinct := map[string]bool{}
		for _, r := range recs {
			distinct[r.Body.Str] = true
		}
		if len(distinct) == lines {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d lines arrived", len(distinct), lines)
		}
		recv.Wait(len(recs)+1, time.Until(deadline))
	}
	agent.signal(syscall.SIGTERM)
	if c := agent.wait(); c != 0 {
		t.Errorf("exit %d", c)
	}
	recs = recv.Records()
	first := map[string]string{} // body -> uid
	dups := 0
	for _, r := range recs {
		uid := r.Attributes.Str("log.record.uid")
		if u, seen := first[r.Body.Str]; seen {
			dups++
			if u != uid {
				t.Errorf("%s sent again with uid %s, first with %s", r.Body.Str, uid, u)
			}
			continue
		}
		first[r.Body.Str] = uid
	}
	for i := range lines {
		if _, ok := first[fmt.Sprintf("line %07d %s", i, strings.Repeat("y", 180))]; !ok {
			t.Errorf("line %d lost", i)
		}
	}
	t.Logf("%d kills, %d lines, %d records received, %d duplicates", kills, lines, len(recs), dups)
	if bound := kills * concurrency * maxRecords; dups > bound {
		t.Errorf("%d duplicates after %d kills: more than the requests in flight allow (%d)", dups, kills, bound)
	}
}

// TestOTLPValidate: bad otlp and http sections are refused by capstan
// validate with their key paths.
func TestOTLPValidate(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.pem")
	for _, tc := range []struct{ output, want string }{
		{`{type: otlp, endpoint: "collector:4318"}`, `outputs.o.endpoint: "collector:4318": want a URL starting with http:// or https://`},
		{`{type: otlp, endpoint: "http://c:4318", encoding: protojson}`, `outputs.o.encoding: "protojson" is not one of protobuf, json`},
		{`{type: otlp, endpoint: "http://c:4318", auth: {bearer: {token_file: ` + missing + `}}}`, `outputs.o.auth.bearer.token_file: cannot read ` + missing},
		{`{type: otlp, endpoint: "https://c:4318", tls: {ca_file: ` + missing + `}}`, `outputs.o.tls.ca_file: cannot read ` + missing},
		{`{type: otlp, protocol: grpc, endpoint: "http://c:4317", encoding: json}`, `outputs.o.encoding: OTLP/gRPC is protobuf only`},
		{`{type: http, url: "logs.example.com/x"}`, `outputs.o.url: "logs.example.com/x": want a URL starting with http:// or https://`},
		{`{type: http, url: "http://x/", encoding: xml}`, `outputs.o.encoding: "xml" is not one of ndjson, json_array, raw`},
		{`{type: http, url: "http://x/", auth: {header: {name: X-Key, value_file: ` + missing + `}}}`, `outputs.o.auth.header.value_file: cannot read ` + missing},
		{`{type: http, url: "https://x/", tls: {cert_file: ` + missing + `, key_file: ` + missing + `}}`, `outputs.o.tls.cert_file: cannot read ` + missing},
	} {
		cfg := filepath.Join(dir, "c.yaml")
		os.WriteFile(cfg, []byte(fmt.Sprintf("data_dir: %s\ninputs: {i: {type: tcp, listen: [\"127.0.0.1:0\"]}}\noutputs:\n  o: %s\n", filepath.Join(dir, "data"), tc.output)), 0o644)
		r := capstan(t, dir, env(), "validate", "-c", cfg)
		if r.code != 3 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%s: exit %d, stderr\n%s\nwant %q", tc.output, r.code, r.stderr, tc.want)
		}
	}
}

// TestOTLPHangingDestinationStops: an OTLP destination that takes requests
// and never answers does not hold SIGTERM beyond shutdown_grace and
// drain_timeout (the test's guard kills the agent after two minutes; the
// request timeout is an hour). What was not acknowledged stays in the
// spool.
func TestOTLPHangingDestinationStops(t *testing.T) {
	front := otlptest.NewHTTPFront(t, "127.0.0.1:1", func(otlptest.Seen) otlptest.HTTPAnswer { return otlptest.HTTPHang() })
	dir := t.TempDir()
	logFile := filepath.Join(dir, "app.log")
	os.WriteFile(logFile, []byte(strings.Repeat("a line\n", 1000)), 0o644)
	cfg := filepath.Join(dir, "agent.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`data_dir: %s
log: {format: json}
http: {address: "127.0.0.1:0"}
shutdown_grace: 1s
inputs:
  app: {type: file, include: [%q], start_at: beginning}
outputs:
  otel: {type: otlp, endpoint: %q, timeout: 1h, drain_timeout: 1s}
`, filepath.Join(dir, "data"), logFile, front.URL)), 0o644)
	agent := startAgent(t, dir, env(), "-c", cfg)
	agent.waitLog("agent started")
	for start := time.Now(); len(front.Exchanges()) == 0; time.Sleep(10 * time.Millisecond) {
		if time.Since(start) > time.Minute {
			t.Fatal("no request reached the front in a minute")
		}
	}
	start := time.Now()
	agent.signal(syscall.SIGTERM)
	if c := agent.wait(); c != 0 {
		t.Fatalf("exit %d:\n%s", c, agent.allLogs())
	}
	t.Logf("stopped %v after SIGTERM (shutdown_grace 1s, drain_timeout 1s)", time.Since(start).Round(time.Millisecond))
	if !strings.Contains(agent.allLogs(), "left_records") {
		t.Errorf("the stop did not say what is left in the spool:\n%s", agent.allLogs())
	}
}

// TestOTLPUnder503: one request in twenty answered 503 (the case where
// Fluent Bit's opentelemetry output loses and duplicates lines): every line
// arrives exactly once, and no request carries a record already
// acknowledged.
func TestOTLPUnder503(t *testing.T) {
	const lines = 100_000
	recv := otlptest.Start(t, otlptest.Options{NoGRPC: true})
	rng := rand.New(rand.NewPCG(1, 2))
	var rngMu sync.Mutex // the front answers requests on several goroutines
	front := otlptest.NewHTTPFront(t, recv.HTTPAddr, func(otlptest.Seen) otlptest.HTTPAnswer {
		rngMu.Lock()
		fail := rng.IntN(20) == 0
		rngMu.Unlock()
		if fail {
			return otlptest.HTTPStatus(503, "0")
		}
		return otlptest.HTTPAnswer{}
	})
	dir := t.TempDir()
	logFile := filepath.Join(dir, "app.log")
	var b []byte
	for i := range lines {
		b = fmt.Appendf(b, "line %07d %s\n", i, strings.Repeat("z", 180))
	}
	os.WriteFile(logFile, b, 0o644)
	cfg := filepath.Join(dir, "agent.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`data_dir: %s
log: {format: json}
http: {address: "127.0.0.1:0"}
inputs:
  app: {type: file, include: [%q], start_at: beginning}
outputs:
  otel: {type: otlp, endpoint: %q, batch: {max_records: 1000}, retry: {initial: 10ms, max: 100ms}}
`, filepath.Join(dir, "data"), logFile, front.URL)), 0o644)
	agent := startAgent(t, dir, env(), "-c", cfg)
	agent.waitLog("agent started")
	recs := recv.Wait(lines, 2*time.Minute)
	agent.signal(syscall.SIGTERM)
	if c := agent.wait(); c != 0 {
		t.Errorf("exit %d", c)
	}
	seen := map[string]int{}
	for _, r := range recv.Records() {
		seen[r.Body.Str]++
	}
	for i := range lines {
		if n := seen[fmt.Sprintf("line %07d %s", i, strings.Repeat("z", 180))]; n != 1 {
			t.Errorf("line %d arrived %d times", i, n)
		}
	}
	exchanges := front.Exchanges()
	failed := 0
	for _, ex := range exchanges {
		if ex.Status == 503 {
			failed++
		}
	}
	if again := otlptest.SentAfterAck(exchanges, func(r otlptest.Record) string { return r.Attributes.Str("log.record.uid") }); len(again) > 0 {
		t.Errorf("%d records sent again after they were acknowledged", len(again))
	}
	t.Logf("%d requests, %d answered 503, %d records received for %d lines", len(exchanges), failed, len(recs), lines)
}
