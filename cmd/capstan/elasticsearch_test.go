package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/capstan-agent/capstan/shipper/elasticsearch/esfake"
)

// TestElasticsearchExactlyOnceUnderKill: file → capstan edge → capstan core
// → the Elasticsearch fake, as real processes, with the edge, the core or
// both SIGKILLed at random moments while the file grows. The index holds
// every line exactly once: documents are counted, not 409s, and the 409s
// show the replays the _id made harmless.
func TestElasticsearchExactlyOnceUnderKill(t *testing.T) {
	if testing.Short() {
		t.Skip("runs agents for a while")
	}
	lines, rounds := 200_000, 8
	if os.Getenv("CAPSTAN_SOAK") != "" {
		lines, rounds = 1_000_000, 30
	}
	const index = "capstan-test"
	es := esfake.Start(t, esfake.Options{})
	dir := t.TempDir()
	logFile := filepath.Join(dir, "logs", "app.log")
	os.MkdirAll(filepath.Dir(logFile), 0o755)
	ec := newEdgeCore(t, dir, logFile, "50ms", fmt.Sprintf(`  es:
    type: elasticsearch
    endpoints: [%q]
    index: %s
    concurrency: 4
    batch: {max_records: 2000}
    retry: {initial: 20ms, max: 200ms}
`, es.URL, index))

	written := 0
	appendLines := func(n int) {
		f, err := os.OpenFile(logFile, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		var b []byte
		for i := written; i < written+n; i++ {
			b = fmt.Appendf(b, "line %07d %s\n", i, strings.Repeat("e", 180))
			if len(b) > 1<<20 {
				f.Write(b)
				b = b[:0]
			}
		}
		f.Write(b)
		f.Close()
		written += n
	}
	appendLines(lines / 2)
	core, edge := ec.startCore(), ec.startEdge()
	perRound := (lines - written) / rounds
	kills := map[string]int{}
	for round := range rounds {
		if round == rounds-1 {
			perRound = lines - written
		}
		appendLines(perRound)
		time.Sleep(time.Duration(50+rand.IntN(400)) * time.Millisecond)
		switch rand.IntN(3) {
		case 0:
			kill(edge)
			edge = ec.startEdge()
			kills["edge"]++
		case 1:
			kill(core)
			core = ec.startCore()
			kills["core"]++
		default:
			edge.cmd.Process.Kill()
			core.cmd.Process.Kill()
			edge.wait()
			core.wait()
			core, edge = ec.startCore(), ec.startEdge()
			kills["both"]++
		}
	}
	deadline := time.Now().Add(4 * time.Minute)
	for es.DocCount(index) < int64(written) {
		if time.Now().After(deadline) {
			t.Fatalf("after 4 minutes the index holds %d of %d lines", es.DocCount(index), written)
		}
		time.Sleep(100 * time.Millisecond)
	}
	stopEdgeCore(t, edge, core)
	seen := make([]int, written)
	for _, d := range es.Documents(index) {
		var doc struct {
			Message string `json:"message"`
		}
		if err := json.Unmarshal(d.Source, &doc); err != nil {
			t.Fatalf("document %s: %v", d.ID, err)
		}
		f := strings.Fields(doc.Message)
		n, err := strconv.Atoi(f[min(1, len(f)-1)])
		if len(f) != 3 || err != nil || n >= written {
			t.Fatalf("document %q is no line of the file", doc.Message)
		}
		seen[n]++
	}
	var missing, dups int
	for i, c := range seen {
		switch {
		case c == 0:
			if missing++; missing < 5 {
				t.Errorf("line %d is not in the index", i)
			}
		case c > 1:
			if dups++; dups < 5 {
				t.Errorf("line %d is in the index %d times", i, c)
			}
		}
	}
	st := es.Stats()
	t.Logf("%d lines, kills %v: %d documents, %d missing, %d duplicated; %d replays answered 409", written, kills,
		es.DocCount(index), missing, dups, st.Conflicts)
}

// TestElasticsearchValidate: bad elasticsearch sections are refused by
// capstan validate with their key paths.
func TestElasticsearchValidate(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing")
	for _, tc := range []struct{ output, want string }{
		{`{type: elasticsearch}`, `outputs.o.endpoints: missing`},
		{`{type: elasticsearch, endpoints: ["es:9200"]}`, `outputs.o.endpoints[0]: "es:9200": want a URL starting with http:// or https://`},
		{`{type: elasticsearch, endpoints: ["http://es:9200"], index: "logs-$${}-%Y"}`, `outputs.o.index: "logs-${}-%Y": ${} at byte 5 names no field`},
		{`{type: elasticsearch, endpoints: ["http://es:9200"], index: "Logs"}`, `outputs.o.index: "Logs": "L" at byte 0: index names are lower case`},
		{`{type: elasticsearch, endpoints: ["http://es:9200"], index_name: x}`, `outputs.o.index_name: unknown key`},
		{`{type: elasticsearch, endpoints: ["http://es:9200"], auth: {api_key: {key_file: ` + missing + `}}}`, `outputs.o.auth.api_key.key_file: cannot read ` + missing},
		{`{type: elasticsearch, endpoints: ["http://es:9200"], auth: {apikey: {key: k}}}`, `outputs.o.auth.apikey: unknown key`},
		{`{type: elasticsearch, endpoints: ["https://es:9200"], tls: {ca_file: ` + missing + `}}`, `outputs.o.tls.ca_file: cannot read ` + missing},
	} {
		cfg := filepath.Join(dir, "c.yaml")
		os.WriteFile(cfg, []byte(fmt.Sprintf("data_dir: %s\ninputs: {i: {type: tcp, listen: [\"127.0.0.1:0\"]}}\noutputs:\n  o: %s\n", filepath.Join(dir, "data"), tc.output)), 0o644)
		r := capstan(t, dir, env(), "validate", "-c", cfg)
		if r.code != 3 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%s: exit %d, stderr\n%s\nwant %q", tc.output, r.code, r.stderr, tc.want)
		}
	}
}

// TestElasticsearchParsedLine: a JSON line parsed by a processor is a
// document of its fields, with the line's own time as @timestamp.
func TestElasticsearchParsedLine(t *testing.T) {
	es := esfake.Start(t, esfake.Options{})
	dir := t.TempDir()
	logFile := filepath.Join(dir, "app.log")
	os.WriteFile(logFile, []byte(`{"ts":"2026-05-01T10:00:00.5Z","level":"warn","msg":"disk full","http":{"status":507},"pct":97.5}`+"\n"), 0o644)
	cfg := filepath.Join(dir, "agent.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`data_dir: %s
log: {format: json}
http: {address: "127.0.0.1:0"}
inputs:
  app:
    type: file
    include: [%q]
    start_at: beginning
    poll_interval: 50ms
    processors:
      - {type: json, merge: true, body_from: msg}
      - {type: timestamp, field: ts, layouts: [rfc3339], remove: true}
outputs:
  es: {type: elasticsearch, endpoints: [%q]}
`, filepath.Join(dir, "data"), logFile, es.URL)), 0o644)
	agent := startAgent(t, dir, env(), "-c", cfg)
	agent.waitLog("agent started")
	deadline := time.Now().Add(time.Minute)
	for es.DocCount("logs-2026.05.01") < 1 {
		if time.Now().After(deadline) {
			t.Fatalf("after a minute no document in logs-2026.05.01; indices %v", es.Indices())
		}
		time.Sleep(20 * time.Millisecond)
	}
	agent.signal(syscall.SIGTERM)
	agent.wait()
	var doc map[string]any
	json.Unmarshal(es.Documents("logs-2026.05.01")[0].Source, &doc)
	for k, v := range map[string]any{"@timestamp": "2026-05-01T10:00:00.5Z", "message": "disk full", "level": "warn",
		"http.status": 507.0, "pct": 97.5, "log.file.path": logFile} {
		if doc[k] != v {
			t.Errorf("%s = %v, want %v in %v", k, doc[k], v, doc)
		}
	}
}
