package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/capstan-agent/capstan/agent"
	"github.com/capstan-agent/capstan/agent/config"
	"github.com/capstan-agent/capstan/component"
)

// TestEveryTypeScrapedAtOnce: an agent with every input and output type of
// the build at once serves /metrics without a single gather error (a
// metric name shared by two types once made Prometheus refuse the second).
func TestEveryTypeScrapedAtOnce(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(os.TempDir(), fmt.Sprintf("capstan-scrape-%d", os.Getpid()))
	t.Cleanup(func() { os.Remove(sock + ".s"); os.Remove(sock + ".g") })
	reg := registry(io.Discard)
	yaml := fmt.Sprintf(`data_dir: %s
http: {address: ""}
inputs:
  f: {type: file, include: [%q]}
  t: {type: tcp, listen: ["127.0.0.1:0"]}
  u: {type: udp, listen: ["127.0.0.1:0"]}
  x: {type: unix, listen: [%q]}
  g: {type: unixgram, listen: [%q]}
  w: {type: forward, listen: ["127.0.0.1:0"]}
  k: {type: kafka, brokers: ["127.0.0.1:9"], topics: [logs]}
outputs:
  so: {type: stdout}
  fo: {type: file, path: %q}
  to: {type: tcp, address: "127.0.0.1:9"}
  wo: {type: forward, endpoints: ["127.0.0.1:9"]}
  oo: {type: otlp, endpoint: "http://127.0.0.1:9"}
  ho: {type: http, url: "http://127.0.0.1:9/in"}
  eo: {type: elasticsearch, endpoints: ["http://127.0.0.1:9"]}
  lo: {type: loki, endpoint: "http://127.0.0.1:9"}
  ko: {type: kafka, brokers: ["127.0.0.1:9"], topic: logs}
`, filepath.Join(dir, "data"), filepath.Join(dir, "*.log"), sock+".s", sock+".g", filepath.Join(dir, "out", "o.log"))
	os.MkdirAll(filepath.Join(dir, "out"), 0o755)
	l, err := config.Load(config.Options{YAML: []byte(yaml), Environ: []string{}, Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	// Every type of the build is in the configuration.
	for _, k := range []component.Kind{component.KindInput, component.KindOutput} {
		for _, typ := range reg.Types(k) {
			found := false
			for _, in := range l.Inputs {
				found = found || k == component.KindInput && in.Type == typ
			}
			for _, out := range l.Outputs {
				found = found || k == component.KindOutput && out.Type == typ
			}
			if !found {
				t.Errorf("%s type %s is not in the test's configuration", k, typ)
			}
		}
	}
	a := agent.New(l.Config, agent.Options{Registry: reg})
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	defer a.Stop(context.Background())
	mfs, err := a.Metrics().Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	names := map[string]bool{}
	for _, mf := range mfs {
		names[mf.GetName()] = true
	}
	for _, want := range []string{"capstan_input_records_total", "capstan_output_records_total", "capstan_component_state", "capstan_input_connections"} {
		if !names[want] {
			t.Errorf("no %s in the scrape", want)
		}
	}
}

// TestStartFailsOnATakenPort: `capstan run` with an input whose port is in
// use exits 1 and names the key; a reload that adds such an input is
// refused and the running configuration stays.
func TestStartFailsOnATakenPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	taken := ln.Addr().String()
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "capstan.yaml")
	write := func(extra string) {
		os.WriteFile(cfgPath, []byte(fmt.Sprintf("data_dir: %s\nhttp: {address: \"\"}\ninputs:\n  ok: {type: tcp, listen: [\"127.0.0.1:0\"]}\n%soutputs:\n  o: {type: stdout}\n",
			filepath.Join(dir, "data"), extra)), 0o644)
	}
	write(fmt.Sprintf("  busy: {type: tcp, listen: [%q]}\n", taken))
	p := startAgent(t, dir, env(), "-c", cfgPath)
	if code := p.wait(); code != 1 {
		t.Fatalf("exit %d, want 1:\n%s", code, p.allLogs())
	}
	if logs := p.allLogs(); !strings.Contains(logs, "inputs.busy: socket input busy: listen tcp://"+taken) {
		t.Errorf("the failure does not name inputs.busy:\n%s", logs)
	}

	write("")
	p = startAgent(t, dir, env(), "-c", cfgPath)
	p.waitLog("agent started")
	write(fmt.Sprintf("  busy: {type: tcp, listen: [%q]}\n", taken))
	p.signal(syscall.SIGHUP)
	line := p.waitLog("reload refused")
	if !strings.Contains(line, "inputs.busy.listen[0]") || !strings.Contains(line, "address already in use") {
		t.Errorf("reload refusal: %s", line)
	}
	p.signal(syscall.SIGTERM)
	if code := p.wait(); code != 0 {
		t.Fatalf("exit %d:\n%s", code, p.allLogs())
	}
}

// TestRecordsCarryHostIdentity: every record gets the agent's host.name as
// a source attribute, and an input's own attributes take ${VAR}.
func TestRecordsCarryHostIdentity(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "capstan.yaml")
	os.WriteFile(cfgPath, []byte(fmt.Sprintf(`data_dir: %s
log: {format: json}
http: {address: ""}
inputs:
  in: {type: tcp, listen: ["127.0.0.1:0"], attributes: {k8s.node.name: "${NODE_NAME}"}}
outputs:
  o: {type: stdout, encoding: ndjson}
`, filepath.Join(dir, "data"))), 0o644)
	p := startAgent(t, dir, env("NODE_NAME=node-7"), "-c", cfgPath)
	c, err := net.Dial("tcp", p.listenAddr("in"))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(c, "hello")
	c.Close()
	got := readLines(t, bufio.NewReader(p.stdout), 1)[0]
	host, _ := os.Hostname()
	for _, want := range []string{`"host.name":"` + host + `"`, `"k8s.node.name":"node-7"`, `"body":"hello"`} {
		if !strings.Contains(got, want) {
			t.Errorf("record %s lacks %s", got, want)
		}
	}
	p.signal(syscall.SIGTERM)
	p.wait()
}
