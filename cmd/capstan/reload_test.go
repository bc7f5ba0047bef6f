package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestReloadDeliversEveryLineOnce is what a reload guarantees
// (docs/configuration.md, "Reload and stop"): while lines flow, one
// component's settings (or its name, or the streams it reads) change and
// the agent gets SIGHUP once or ten times; every line reaches the
// destination exactly once. It covers every output type and the inputs that
// can restart (file, tcp, forward).
func TestReloadDeliversEveryLineOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("runs agents for a while")
	}
	cases := []struct {
		name   string
		source string // file: a growing file; tcp: a client; forward: an edge agent
		dest   string // stdout, file, tcp, forward (a core agent writing a file)
		// input and output are the YAML of the input and output under
		// test for reload i (0: the start).
		input, output func(i int, e *reloadEnv) string
	}{
		{"stdout output", "file", "stdout", fileInput(nil), func(i int, e *reloadEnv) string {
			return "  o: {type: stdout" + outputCommon(i) + "}"
		}},
		{"file output", "file", "file", fileInput(nil), func(i int, e *reloadEnv) string {
			return fmt.Sprintf("  o: {type: file, path: %q, max_files: %d, max_bytes: 100MiB%s}", e.out, 5+i, outputCommon(i))
		}},
		{"file output renamed", "file", "file", fileInput(nil), func(i int, e *reloadEnv) string {
			return fmt.Sprintf("  o%d: {type: file, path: %q}", i, e.out)
		}},
		{"tcp output", "file", "tcp", fileInput(nil), func(i int, e *reloadEnv) string {
			return fmt.Sprintf("  o: {type: tcp, address: %q, connect_timeout: %ds%s}", e.tcpAddr, 5+i, outputCommon(i))
		}},
		{"forward output", "file", "forward", fileInput(nil), func(i int, e *reloadEnv) string {
			return fmt.Sprintf("  o: {type: forward, endpoints: [%q], connect_timeout: %ds, backoff: {initial: 20ms, max: 200ms}%s}",
				e.coreAddr, 5+i, outputCommon(i))
		}},
		{"file input", "file", "file", fileInput(func(i int) string { return fmt.Sprintf(", max_open_files: %d", 100+i) }), fileOutput},
		{"file input renamed", "file", "file", func(i int, e *reloadEnv) string {
			return fmt.Sprintf("  in%d: {type: file, include: [%q], start_at: beginning, poll_interval: 20ms}", i, e.logFile)
		}, fileOutput},
		{"tcp input", "tcp", "file", func(i int, e *reloadEnv) string {
			return fmt.Sprintf("  in: {type: tcp, listen: [%q], max_connections: %d, linger: %dms}", e.tcpInAddr, 100+i, 10+i)
		}, fileOutput},
		{"forward input", "forward", "file", func(i int, e *reloadEnv) string {
			return fmt.Sprintf("  in: {type: forward, listen: [%q], max_connections: %d}", e.fwdInAddr, 100+i)
		}, fileOutput},
	}
	for _, tc := range cases {
		for _, reloads := range []int{1, 10} {
			t.Run(fmt.Sprintf("%s/%d reloads", tc.name, reloads), func(t *testing.T) {
				e := newReloadEnv(t, tc.source, tc.dest)
				config := func(i int) string {
					return fmt.Sprintf("data_dir: %s\nlog: {level: info}\nhttp: {address: \"\"}\ninputs:\n%s\noutputs:\n%s\n",
						e.data, tc.input(i, e), tc.output(i, e))
				}
				os.WriteFile(e.cfg, []byte(config(0)), 0o644)
				p := startAgent(t, e.dir, env(), "-c", e.cfg)
				p.waitLog("agent started")
				e.collect(p)

				const lines = 20000
				done := make(chan struct{})
				go func() { defer close(done); e.write(lines) }()
				every := 2 * time.Second / time.Duration(reloads+1)
				for i := 1; i <= reloads; i++ {
					time.Sleep(every)
					os.WriteFile(e.cfg, []byte(config(i)), 0o644)
					p.signal(syscall.SIGHUP)
					p.waitLogN("configuration reloaded", i-1)
				}
				<-done
				if e.writeErr != nil {
					t.Fatal(e.writeErr)
				}
				e.waitDelivered(t, lines, p)
				p.signal(syscall.SIGTERM)
				if code := p.wait(); code != 0 {
					t.Fatalf("exit %d:\n%s", code, p.allLogs())
				}
				e.stop()
				e.check(t, lines)
				if strings.Contains(p.allLogs(), "offsets skipped") {
					t.Errorf("the agent skipped offsets:\n%s", p.allLogs())
				}
			})
		}
	}
}

// outputCommon changes an output's common keys with i: the streams it
// reads and where a partition without a checkpoint starts.
func outputCommon(i int) string {
	switch i % 3 {
	case 1:
		return ", streams: [default]"
	case 2:
		return ", start_at: newest"
	}
	return ""
}

func fileInput(extra func(int) string) func(int, *reloadEnv) string {
	return func(i int, e *reloadEnv) string {
		x := ""
		if extra != nil {
			x = extra(i)
		}
		return fmt.Sprintf("  in: {type: file, include: [%q], start_at: beginning, poll_interval: 20ms%s}", e.logFile, x)
	}
}

func fileOutput(i int, e *reloadEnv) string {
	return fmt.Sprintf("  o: {type: file, path: %q}", e.out)
}

// reloadEnv is where lines come from and go to in one reload test.
type reloadEnv struct {
	dir, data, cfg, logFile, out string
	source, dest                 string
	tcpAddr                      string // the test's tcp receiver (dest tcp)
	tcpInAddr                    string // the agent's tcp input (source tcp)
	fwdInAddr                    string // the agent's forward input (source forward)
	coreAddr                     string // the core's forward input (dest forward)

	mu       sync.Mutex
	writeErr error
	received map[string]int // dest stdout and tcp
	wg       sync.WaitGroup
	ln       net.Listener
	edge     *agentProc // source forward
	core     *agentProc // dest forward
}

func newReloadEnv(t *testing.T, source, dest string) *reloadEnv {
	dir := t.TempDir()
	e := &reloadEnv{dir: dir, data: filepath.Join(dir, "data"), cfg: filepath.Join(dir, "capstan.yaml"),
		logFile: filepath.Join(dir, "app.log"), out: filepath.Join(dir, "out", "out.log"),
		source: source, dest: dest, received: map[string]int{}}
	os.MkdirAll(filepath.Dir(e.out), 0o755)
	os.WriteFile(e.logFile, nil, 0o644)
	e.tcpInAddr = fmt.Sprintf("127.0.0.1:%d", freeTestPort(t))
	e.fwdInAddr = fmt.Sprintf("127.0.0.1:%d", freeTestPort(t))
	switch dest {
	case "tcp":
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		e.ln, e.tcpAddr = ln, ln.Addr().String()
		e.wg.Go(func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				e.wg.Go(func() { e.count(c); c.Close() })
			}
		})
	case "forward":
		e.coreAddr = fmt.Sprintf("127.0.0.1:%d", freeTestPort(t))
		coreCfg := filepath.Join(dir, "core.yaml")
		os.WriteFile(coreCfg, []byte(fmt.Sprintf("data_dir: %s\nhttp: {address: \"\"}\ninputs:\n  edges: {type: forward, listen: [%q]}\noutputs:\n  o: {type: file, path: %q}\n",
			filepath.Join(dir, "core-data"), e.coreAddr, e.out)), 0o644)
		e.core = startAgent(t, dir, env(), "-c", coreCfg)
		e.core.waitLog("agent started")
	}
	if source == "forward" {
		edgeCfg := filepath.Join(dir, "edge.yaml")
		os.WriteFile(edgeCfg, []byte(fmt.Sprintf("data_dir: %s\nhttp: {address: \"\"}\ninputs:\n  in: {type: file, include: [%q], start_at: beginning, poll_interval: 20ms}\noutputs:\n  core: {type: forward, endpoints: [%q], backoff: {initial: 20ms, max: 200ms}}\n",
			filepath.Join(dir, "edge-data"), e.logFile, e.fwdInAddr)), 0o644)
		e.edge = startAgent(t, dir, env(), "-c", edgeCfg)
		e.edge.waitLog("agent started")
	}
	return e
}

// collect starts reading what the agent prints, for dest stdout.
func (e *reloadEnv) collect(p *agentProc) {
	if e.dest == "stdout" {
		e.wg.Go(func() { e.count(p.stdout) })
	}
}

func (e *reloadEnv) count(r interface{ Read([]byte) (int, error) }) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		e.mu.Lock()
		e.received[sc.Text()]++
		e.mu.Unlock()
	}
}

// write sends n numbered lines over about two seconds.
func (e *reloadEnv) write(n int) {
	var conn net.Conn
	for i := 0; i < n; i += 100 {
		var b []byte
		for j := i; j < i+100 && j < n; j++ {
			b = fmt.Appendf(b, "line %06d\n", j)
		}
		switch e.source {
		case "tcp":
			for deadline := time.Now().Add(time.Minute); conn == nil; {
				c, err := net.Dial("tcp", e.tcpInAddr)
				if err != nil {
					if time.Now().After(deadline) {
						e.mu.Lock()
						e.writeErr = fmt.Errorf("waited a minute for the tcp input to listen on %s: %w", e.tcpInAddr, err)
						e.mu.Unlock()
						return
					}
					time.Sleep(10 * time.Millisecond)
					continue
				}
				conn = c
			}
			if _, err := conn.Write(b); err != nil {
				e.mu.Lock()
				e.writeErr = fmt.Errorf("write to the tcp input: %w (a reload must not break the connection)", err)
				e.mu.Unlock()
				return
			}
		default:
			f, _ := os.OpenFile(e.logFile, os.O_WRONLY|os.O_APPEND, 0)
			f.Write(b)
			f.Close()
		}
		time.Sleep(10 * time.Millisecond)
	}
	if conn != nil {
		conn.Close()
	}
}

// lines are what reached the destination so far.
func (e *reloadEnv) lines() map[string]int {
	switch e.dest {
	case "file", "forward":
		got := map[string]int{}
		files, _ := filepath.Glob(e.out + "*")
		for _, f := range files {
			b, _ := os.ReadFile(f)
			for _, l := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
				if l != "" {
					got[l]++
				}
			}
		}
		return got
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	got := make(map[string]int, len(e.received))
	for k, v := range e.received {
		got[k] = v
	}
	return got
}

func (e *reloadEnv) waitDelivered(t *testing.T, n int, p *agentProc) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		if len(e.lines()) >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 60s %d of %d lines delivered:\n%s", len(e.lines()), n, p.allLogs())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (e *reloadEnv) stop() {
	for _, a := range []*agentProc{e.edge, e.core} {
		if a != nil {
			a.signal(syscall.SIGTERM)
			a.wait()
		}
	}
	if e.ln != nil {
		e.ln.Close()
	}
	e.wg.Wait()
}

func (e *reloadEnv) check(t *testing.T, n int) {
	t.Helper()
	got := e.lines()
	var missing, twice []string
	for i := 0; i < n; i++ {
		l := fmt.Sprintf("line %06d", i)
		switch c := got[l]; {
		case c == 0:
			missing = append(missing, l)
		case c > 1:
			twice = append(twice, l)
		}
		delete(got, l)
	}
	var extra []string
	for l := range got {
		extra = append(extra, l)
	}
	sort.Strings(extra)
	if len(missing) > 0 || len(twice) > 0 || len(extra) > 0 {
		t.Errorf("%d of %d lines missing (first %v), %d twice (first %v), %d unexpected (first %v)",
			len(missing), n, first(missing), len(twice), first(twice), len(extra), first(extra))
	}
}

func first(s []string) []string {
	if len(s) > 3 {
		return s[:3]
	}
	return s
}
