package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/capstan-agent/capstan/component/componenttest"
	"github.com/capstan-agent/capstan/spool"
	"github.com/capstan-agent/capstan/spool/batch"
)

// The tests run the built binary as a user would.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "capstan-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "capstan")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "go build:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// env is a clean environment: nothing of the test's own CAPSTAN_* leaks in.
func env(extra ...string) []string {
	return append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, extra...)
}

type result struct {
	code           int
	stdout, stderr string
}

func capstan(t *testing.T, dir string, environ []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Dir, cmd.Env = dir, environ
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{code, out.String(), errb.String()}
}

func TestCommandLine(t *testing.T) {
	for _, tc := range []struct {
		args   []string
		code   int
		stdout string // substring
		stderr string // substring
	}{
		{args: nil, code: 2, stderr: "Usage:"},
		{args: []string{"--help"}, code: 0, stdout: "capstan run [-c FILE]"},
		{args: []string{"version"}, code: 0, stdout: "capstan dev (commit none"},
		{args: []string{"bogus"}, code: 2, stderr: `capstan: unknown command "bogus" (see capstan --help)`},
		{args: []string{"run", "--help"}, code: 0, stdout: "SIGHUP"},
		{args: []string{"run", "--nope"}, code: 2, stderr: "capstan run: flag provided but not defined: -nope (see capstan run --help)"},
		{args: []string{"run", "extra"}, code: 2, stderr: `unexpected argument "extra"`},
		{args: []string{"run", "-c", "/nonexistent.yaml"}, code: 3, stderr: "capstan: read config: open /nonexistent.yaml: no such file or directory"},
		{args: []string{"validate", "--help"}, code: 0, stdout: "--no-lock-check"},
		{args: []string{"validate", "--set", "nokey"}, code: 2, stderr: "want key=value"},
		{args: []string{"validate", "--log-level", "loud"}, code: 3, stderr: `log.level: "loud" is not one of debug, info, warn, error (set by --log-level)`},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			r := capstan(t, t.TempDir(), env(), tc.args...)
			if r.code != tc.code || !strings.Contains(r.stdout, tc.stdout) || !strings.Contains(r.stderr, tc.stderr) {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", r.code, tc.code, r.stdout, r.stderr)
			}
			if strings.Contains(r.stderr, "goroutine ") {
				t.Errorf("a stack trace:\n%s", r.stderr)
			}
		})
	}
}

// TestValidateGolden: `capstan validate` prints every problem of each
// invalid config, as pinned in testdata/config/invalid/*.golden, and exits 3.
// TestVersionListsTypes: version names the input and output types built in
// (stdout at least, the built-in output).
func TestVersionListsTypes(t *testing.T) {
	r := capstan(t, ".", env(), "version")
	lines := strings.Split(r.stdout, "\n")
	if r.code != 0 || len(lines) < 3 || !strings.HasPrefix(lines[1], "inputs: ") ||
		!strings.HasPrefix(lines[2], "outputs: ") || !strings.Contains(lines[2], "stdout") {
		t.Errorf("version printed:\n%s", r.stdout)
	}
}

func TestValidateGolden(t *testing.T) {
	dir, _ := filepath.Abs("../../testdata/config/invalid")
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if len(files) == 0 {
		t.Fatal("no invalid configs")
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			golden, err := os.ReadFile(strings.TrimSuffix(f, ".yaml") + ".golden")
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSuffix(string(golden), "\n"), "\n")
			noun := "problems"
			if len(lines) == 1 {
				noun = "problem"
			}
			want := fmt.Sprintf("capstan: invalid configuration in %s (%d %s):\n", name, len(lines), noun)
			for _, l := range lines {
				want += "  " + l + "\n"
			}
			r := capstan(t, dir, env(), "validate", "-c", name)
			if r.code != 3 || r.stderr != want {
				t.Errorf("exit %d\n--- got\n%s--- want\n%s", r.code, r.stderr, want)
			}
		})
	}
}

// TestValidateWarningsGolden: configurations that are valid but probably
// mistaken (testdata/config/warnings) validate, exit 0, and print the
// warnings pinned in their .golden files, each naming its key and line.
func TestValidateWarningsGolden(t *testing.T) {
	dir, _ := filepath.Abs("../../testdata/config/warnings")
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if len(files) == 0 {
		t.Fatal("no configs with warnings")
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			golden, err := os.ReadFile(strings.TrimSuffix(f, ".yaml") + ".golden")
			if err != nil {
				t.Fatal(err)
			}
			r := capstan(t, dir, env(), "validate", "--no-lock-check", "-c", name)
			first, rest, _ := strings.Cut(r.stdout, "\n")
			if r.code != 0 || !strings.Contains(first, ": valid") || rest != string(golden) {
				t.Errorf("exit %d\n--- got\n%s--- want\n%s\n%s", r.code, r.stdout, first, golden)
			}
		})
	}
}

func TestValidateValid(t *testing.T) {
	files, _ := filepath.Glob("../../testdata/config/valid/*.yaml")
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			r := capstan(t, ".", env("CAPSTAN_TEST_DATA_DIR="+t.TempDir()), "validate", "-c", f)
			if r.code != 0 || !strings.Contains(r.stdout, "valid") {
				t.Errorf("exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
			}
		})
	}
}

// agentProc is a running `capstan run`.
type agentProc struct {
	t      *testing.T
	cmd    *exec.Cmd
	mu     sync.Mutex
	logs   []string // stderr lines
	more   *sync.Cond
	closed bool
	stdout io.ReadCloser
	exited chan int
}

func startAgent(t *testing.T, dir string, environ []string, args ...string) *agentProc {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"run"}, args...)...)
	cmd.Dir, cmd.Env = dir, environ
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &agentProc{t: t, cmd: cmd, exited: make(chan int, 1)}
	p.more = sync.NewCond(&p.mu)
	if p.stdout, err = cmd.StdoutPipe(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.mu.Lock()
			p.logs = append(p.logs, sc.Text())
			p.more.Broadcast()
			p.mu.Unlock()
		}
		p.mu.Lock()
		p.closed = true
		p.more.Broadcast()
		p.mu.Unlock()
	}()
	// A guard against a hang, not a speed check: a test that waits for a log
	// line (or an exit) that never comes fails when the process is killed,
	// and the logs it prints say so.
	guard := time.AfterFunc(5*time.Minute, func() {
		p.mu.Lock()
		p.logs = append(p.logs, "[test] agent killed by the 5-minute hang guard")
		p.mu.Unlock()
		cmd.Process.Kill()
	})
	t.Cleanup(func() {
		guard.Stop()
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
		p.checkStrictJSON()
	})
	return p
}

// checkStrictJSON fails the test if a JSON log line the agent wrote is not
// strict JSON (a key twice in one object): log collectors such as
// Elasticsearch refuse such lines.
func (p *agentProc) checkStrictJSON() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, l := range p.logs {
		if !strings.HasPrefix(l, "{") {
			continue // console format, or a line that is not a log record
		}
		if _, err := componenttest.StrictJSON(l); err != nil {
			p.t.Errorf("log line is not strict JSON (%v): %s", err, l)
			return
		}
	}
}

// waitLog waits for a stderr line containing s and returns it.
func (p *agentProc) waitLog(s string) string {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := 0; ; i++ {
		for ; i < len(p.logs); i++ {
			if strings.Contains(p.logs[i], s) {
				return p.logs[i]
			}
		}
		if p.closed {
			p.t.Fatalf("agent exited before logging %q:\n%s", s, strings.Join(p.logs, "\n"))
		}
		p.more.Wait()
		i--
	}
}

func (p *agentProc) allLogs() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.logs, "\n")
}

// httpAddr is the address the agent's HTTP server logged.
func (p *agentProc) httpAddr() string {
	p.t.Helper()
	line := p.waitLog("http server listening")
	var rec struct{ Address string }
	if err := json.Unmarshal([]byte(line), &rec); err == nil && rec.Address != "" {
		return rec.Address
	}
	// console format: ... {"address": "127.0.0.1:1234", ...}
	i := strings.Index(line, `"address": "`)
	if i < 0 {
		p.t.Fatalf("no address in %q", line)
	}
	rest := line[i+len(`"address": "`):]
	return rest[:strings.IndexByte(rest, '"')]
}

func (p *agentProc) signal(s syscall.Signal) {
	p.t.Helper()
	if err := p.cmd.Process.Signal(s); err != nil {
		p.t.Fatal(err)
	}
}

// wait waits for the process to exit and returns its exit code (128+N for
// a death by signal N).
func (p *agentProc) wait() int {
	p.t.Helper()
	// Read stderr to its end first: Wait closes the pipe, and lines the
	// reader had not taken yet (the last ones before exit) would be lost.
	p.mu.Lock()
	for !p.closed {
		p.more.Wait()
	}
	p.mu.Unlock()
	p.cmd.Wait()
	ws := p.cmd.ProcessState.Sys().(syscall.WaitStatus)
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}

// waitReady waits for /readyz to answer 200: inputs bind their sockets as
// they start, after "agent started".
func waitReady(t *testing.T, addr string) {
	t.Helper()
	for i := 0; ; i++ {
		code, body := get(t, "http://"+addr+"/readyz")
		if code == 200 {
			return
		}
		if i == 300 {
			t.Fatalf("/readyz still %d after 30s:\n%s", code, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestRunDefault: `capstan run` with no arguments works on a fresh machine,
// says what it does, and stops cleanly on SIGTERM.
func TestRunDefault(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	p := startAgent(t, dir, env(
		"XDG_STATE_HOME="+state,
		// Keep the test off the fixed ports and off the real /var/log.
		"CAPSTAN_HTTP__ADDRESS=127.0.0.1:0",
		"CAPSTAN_INPUTS__LOCAL_TCP__LISTEN=127.0.0.1:0",
		"CAPSTAN_INPUTS__VARLOG__INCLUDE="+filepath.Join(dir, "*.log"),
	))
	go io.Copy(io.Discard, p.stdout)
	p.waitLog("no -c given: running the embedded default configuration")
	addr := p.httpAddr()
	p.waitLog("agent started")
	for _, name := range []string{"varlog", "local_tcp"} {
		logs := p.allLogs()
		if !strings.Contains(logs, fmt.Sprintf(`input %q will not run`, name)) && !strings.Contains(logs, "input "+name+":") {
			t.Errorf("input %s: neither started nor reported unavailable:\n%s", name, logs)
		}
	}
	waitReady(t, addr)
	if _, err := os.Stat(filepath.Join(state, "capstan", "LOCK")); err != nil {
		t.Errorf("spool not under $XDG_STATE_HOME/capstan: %v", err)
	}
	p.signal(syscall.SIGTERM)
	if code := p.wait(); code != 0 {
		t.Fatalf("exit %d after SIGTERM:\n%s", code, p.allLogs())
	}
}

// fillSpool appends lines "line <i>" for i in [from, to) to the default
// stream of the spool in dir, while no agent runs.
func fillSpool(t *testing.T, dir string, from, to int) {
	t.Helper()
	sp, err := spool.Open(dir, spool.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	st, err := sp.Stream("default", spool.StreamOptions{Partitions: 1})
	if err != nil {
		t.Fatal(err)
	}
	var b batch.Builder
	for i := from; i < to; i += 100 {
		b.Reset(0, nil)
		for j := i; j < min(i+100, to); j++ {
			b.Add(int64(j), fmt.Appendf(nil, "line %d", j))
		}
		if _, err := st.Partition(0).Append(context.Background(), b.Bytes()); err != nil {
			t.Fatal(err)
		}
	}
}

func writeConfig(t *testing.T, path, dataDir, extra string) {
	t.Helper()
	cfg := fmt.Sprintf(`data_dir: %s
log: {format: json, level: info}
http: {address: "127.0.0.1:0"}
inputs:
  # tcp keeps the default stream written; harmless on port 0.
  in: {type: tcp, listen: ["127.0.0.1:0"]}
outputs:
  console: {type: stdout}
%s`, dataDir, extra)
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
}

// readLines reads n lines of the agent's standard output.
func readLines(t *testing.T, r *bufio.Reader, n int) []string {
	t.Helper()
	var lines []string
	for len(lines) < n {
		l, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("after %d lines: %v", len(lines), err)
		}
		lines = append(lines, strings.TrimSuffix(l, "\n"))
	}
	return lines
}

// TestRunDeliversOnceAcrossRestarts: what is in the spool is printed once,
// /metrics counts it, SIGTERM exits 0 with the checkpoint written, and the
// next run prints only what was added meanwhile.
func TestRunDeliversOnceAcrossRestarts(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	cfgPath := filepath.Join(dir, "capstan.yaml")
	writeConfig(t, cfgPath, data, "")
	fillSpool(t, data, 0, 1000)

	p := startAgent(t, dir, env(), "-c", cfgPath)
	out := bufio.NewReader(p.stdout)
	lines := readLines(t, out, 1000)
	for i, l := range lines {
		if l != fmt.Sprintf("line %d", i) {
			t.Fatalf("line %d is %q", i, l)
		}
	}
	addr := p.httpAddr()
	waitReady(t, addr)
	_, metrics := get(t, "http://"+addr+"/metrics")
	for _, want := range []string{
		`capstan_output_records_total{name="console",type="stdout"} 1000`,
		`capstan_spool_next_offset{partition="0",stream="default"} 1000`,
		`capstan_component_up{kind="output",name="console",type="stdout"} 1`,
		`capstan_ready 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	// The data dir is locked while the agent runs: validate says the
	// configuration is valid and the data dir in use, with its own code.
	r := capstan(t, dir, env(), "validate", "-c", cfgPath)
	if r.code != 4 || !strings.Contains(r.stdout, ": valid; the data dir "+data+" is in use by a running capstan (pid ") {
		t.Errorf("validate on a running agent's config: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := capstan(t, dir, env(), "validate", "--no-lock-check", "-c", cfgPath); r.code != 0 {
		t.Errorf("validate --no-lock-check: exit %d\n%s", r.code, r.stderr)
	}
	p.signal(syscall.SIGTERM)
	if rest, _ := io.ReadAll(out); len(rest) > 0 {
		t.Errorf("printed again: %q", rest)
	}
	if code := p.wait(); code != 0 {
		t.Fatalf("exit %d after SIGTERM:\n%s", code, p.allLogs())
	}

	fillSpool(t, data, 1000, 1100)
	p = startAgent(t, dir, env(), "-c", cfgPath)
	out = bufio.NewReader(p.stdout)
	lines = readLines(t, out, 100)
	if lines[0] != "line 1000" || lines[99] != "line 1099" {
		t.Errorf("second run printed %q … %q", lines[0], lines[99])
	}
	p.signal(syscall.SIGTERM)
	if rest, _ := io.ReadAll(out); len(rest) > 0 {
		t.Errorf("second run printed more: %q", rest)
	}
	if code := p.wait(); code != 0 {
		t.Fatalf("exit %d", code)
	}
}

// TestSIGHUP: an invalid configuration is refused and the agent keeps
// serving; a valid one is applied.
func TestSIGHUP(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "capstan.yaml")
	writeConfig(t, cfgPath, filepath.Join(dir, "data"), "")
	p := startAgent(t, dir, env(), "-c", cfgPath)
	go io.Copy(io.Discard, p.stdout)
	addr := p.httpAddr()
	p.waitLog("agent started")
	waitReady(t, addr)

	os.WriteFile(cfgPath, []byte("log: {level: loud}\nspool: {fsync: sometimes}\n"), 0o644)
	p.signal(syscall.SIGHUP)
	line := p.waitLog("reload refused")
	for _, want := range []string{`log.level: \"loud\" is not one of`, `spool.fsync: \"sometimes\"`} {
		if !strings.Contains(line, want) {
			t.Errorf("refusal does not say %s: %s", want, line)
		}
	}
	if code, body := get(t, "http://"+addr+"/readyz"); code != 200 {
		t.Errorf("after a refused reload /readyz %d:\n%s", code, body)
	}

	writeConfig(t, cfgPath, filepath.Join(dir, "data"), "  more: {type: stdout, start_at: newest}\n")
	p.signal(syscall.SIGHUP)
	p.waitLog("configuration reloaded")
	p.waitLog(`"output":"more"`)
	if _, metrics := get(t, "http://"+addr+"/metrics"); !strings.Contains(metrics, `capstan_component_up{kind="output",name="more",type="stdout"} 1`) {
		t.Error("the added output is not running")
	}
	p.signal(syscall.SIGTERM)
	if code := p.wait(); code != 0 {
		t.Fatalf("exit %d:\n%s", code, p.allLogs())
	}
}

// TestSecondSignal: while outputs drain (here: stdout is not read, so the
// output cannot finish), a second SIGTERM exits at once with 128+15.
func TestSecondSignal(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	cfgPath := filepath.Join(dir, "capstan.yaml")
	writeConfig(t, cfgPath, data, "shutdown_grace: 1h\n")
	fillSpool(t, data, 0, 50000) // more than a pipe buffer holds
	p := startAgent(t, dir, env(), "-c", cfgPath)
	p.waitLog("agent started")
	p.signal(syscall.SIGTERM)
	p.waitLog("signal received: stopping")
	p.signal(syscall.SIGINT) // another signal: the user means it
	if code := p.wait(); code != 128+2 {
		t.Fatalf("exit %d, want 130:\n%s", code, p.allLogs())
	}
	if !strings.Contains(p.allLogs(), "second signal: exiting now") {
		t.Errorf("no log line for the second signal:\n%s", p.allLogs())
	}
}

// TestRepeatedSignalIsOne: the same signal twice within a second (GNU
// timeout signals the process and its group) is one request to stop: the
// agent drains and exits 0.
func TestRepeatedSignalIsOne(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	cfgPath := filepath.Join(dir, "capstan.yaml")
	writeConfig(t, cfgPath, data, "shutdown_grace: 1h\n")
	fillSpool(t, data, 0, 50000) // more than a pipe buffer holds: the drain waits for the reader
	p := startAgent(t, dir, env(), "-c", cfgPath)
	p.waitLog("agent started")
	p.signal(syscall.SIGTERM)
	p.waitLog("signal received: stopping") // taken; the kernel would merge a repeat sent before
	p.signal(syscall.SIGTERM)
	p.waitLog("the same signal again within a second")
	readLines(t, bufio.NewReader(p.stdout), 50000)
	if code := p.wait(); code != 0 {
		t.Fatalf("exit %d, want 0:\n%s", code, p.allLogs())
	}
}

// TestWatchConfig: with --watch-config, saving the file reloads it, and a
// bad save is refused like a bad SIGHUP.
func TestWatchConfig(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "capstan.yaml")
	writeConfig(t, cfgPath, filepath.Join(dir, "data"), "")
	p := startAgent(t, dir, env(), "-c", cfgPath, "--watch-config")
	go io.Copy(io.Discard, p.stdout)
	p.waitLog("agent started")
	os.WriteFile(cfgPath, []byte("log: {level: loud}\n"), 0o644)
	p.waitLog("reload refused")
	// Replace by rename, as editors and ConfigMaps do.
	tmp := filepath.Join(dir, "capstan.yaml.tmp")
	writeConfig(t, tmp, filepath.Join(dir, "data"), "  more: {type: stdout, start_at: newest}\n")
	if err := os.Rename(tmp, cfgPath); err != nil {
		t.Fatal(err)
	}
	p.waitLog("configuration reloaded")
	p.signal(syscall.SIGTERM)
	if code := p.wait(); code != 0 {
		t.Fatalf("exit %d:\n%s", code, p.allLogs())
	}
}

// TestSIGHUPRestartsOutputOnce: a changed output restarts from its
// checkpoint: nothing printed twice, nothing skipped.
func TestSIGHUPRestartsOutputOnce(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	cfgPath := filepath.Join(dir, "capstan.yaml")
	writeConfig(t, cfgPath, data, "")
	fillSpool(t, data, 0, 500)
	p := startAgent(t, dir, env(), "-c", cfgPath)
	out := bufio.NewReader(p.stdout)
	readLines(t, out, 500)
	// Same output name, new settings: it is stopped (committing what it
	// printed) and started again from there.
	os.WriteFile(cfgPath, []byte(strings.Replace(mustRead(t, cfgPath), "console: {type: stdout}", "console: {type: stdout, encoding: ndjson}", 1)), 0o644)
	p.signal(syscall.SIGHUP)
	p.waitLog("configuration reloaded")
	p.signal(syscall.SIGTERM)
	if rest, _ := io.ReadAll(out); len(rest) > 0 {
		t.Errorf("the restarted output printed again: %.200q", rest)
	}
	if code := p.wait(); code != 0 {
		t.Fatalf("exit %d:\n%s", code, p.allLogs())
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestTCPInputToStdout: lines sent to a tcp input of the running binary come
// out of its stdout output once each, in order, and SIGTERM exits 0.
func TestTCPInputToStdout(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "capstan.yaml")
	writeConfig(t, cfgPath, filepath.Join(dir, "data"), "")
	p := startAgent(t, dir, env(), "-c", cfgPath)
	line := p.waitLog(`"listening"`)
	var rec struct{ Address string }
	if err := json.Unmarshal([]byte(line), &rec); err != nil || rec.Address == "" {
		t.Fatalf("no address in %q", line)
	}
	conn, err := net.Dial("tcp", strings.TrimPrefix(rec.Address, "tcp://"))
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(conn)
	for i := 0; i < 5000; i++ {
		fmt.Fprintf(w, "tcp line %d\n", i)
	}
	w.Flush()
	conn.Close()
	out := bufio.NewReader(p.stdout)
	for i, l := range readLines(t, out, 5000) {
		if l != fmt.Sprintf("tcp line %d", i) {
			t.Fatalf("line %d is %q", i, l)
		}
	}
	p.signal(syscall.SIGTERM)
	if rest, _ := io.ReadAll(out); len(rest) > 0 {
		t.Errorf("printed more: %q", rest)
	}
	if code := p.wait(); code != 0 {
		t.Fatalf("exit %d:\n%s", code, p.allLogs())
	}
}

// listenAddr waits for the "listening" line of the named input and returns
// its host:port.
func (p *agentProc) listenAddr(input string) string {
	p.t.Helper()
	for i := 0; ; i++ {
		line := p.waitLogN(`"listening"`, i)
		var rec struct{ Input, Address string }
		if err := json.Unmarshal([]byte(line), &rec); err == nil && rec.Input == input {
			_, hostPort, _ := strings.Cut(rec.Address, "://")
			return hostPort
		}
	}
}

// waitLogN waits for the n-th (from 0) stderr line containing s.
func (p *agentProc) waitLogN(s string, n int) string {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := 0; ; i++ {
		for ; i < len(p.logs); i++ {
			if strings.Contains(p.logs[i], s) {
				if n == 0 {
					return p.logs[i]
				}
				n--
			}
		}
		if p.closed {
			p.t.Fatalf("agent exited before logging %q:\n%s", s, strings.Join(p.logs, "\n"))
		}
		p.more.Wait()
		i--
	}
}

// TestEdgeToCore: two agents as real processes. Lines sent to the edge's tcp
// input reach the core's stdout through the forward protocol once each, in
// order; both stop with exit 0.
func TestEdgeToCore(t *testing.T) {
	dir := t.TempDir()
	coreCfg := filepath.Join(dir, "core.yaml")
	os.WriteFile(coreCfg, []byte(fmt.Sprintf(`data_dir: %s
log: {format: json}
http: {address: "127.0.0.1:0"}
inputs:
  from_edges: {type: forward, listen: ["127.0.0.1:0"], token: "s3cret"}
outputs:
  console: {type: stdout}
`, filepath.Join(dir, "core-data"))), 0o644)
	core := startAgent(t, dir, env(), "-c", coreCfg)
	coreAddr := core.listenAddr("from_edges")

	edgeCfg := filepath.Join(dir, "edge.yaml")
	os.WriteFile(edgeCfg, []byte(fmt.Sprintf(`data_dir: %s
log: {format: json}
http: {address: "127.0.0.1:0"}
inputs:
  app: {type: tcp, listen: ["127.0.0.1:0"]}
outputs:
  core: {type: forward, endpoints: [%q], token: "s3cret"}
`, filepath.Join(dir, "edge-data"), coreAddr)), 0o644)
	edge := startAgent(t, dir, env(), "-c", edgeCfg)
	conn, err := net.Dial("tcp", edge.listenAddr("app"))
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(conn)
	const n = 20000
	for i := 0; i < n; i++ {
		fmt.Fprintf(w, "edge line %d\n", i)
	}
	w.Flush()
	conn.Close()
	out := bufio.NewReader(core.stdout)
	for i, l := range readLines(t, out, n) {
		if l != fmt.Sprintf("edge line %d", i) {
			t.Fatalf("core printed line %d as %q", i, l)
		}
	}
	edge.signal(syscall.SIGTERM)
	if code := edge.wait(); code != 0 {
		t.Fatalf("edge exit %d:\n%s", code, edge.allLogs())
	}
	core.signal(syscall.SIGTERM)
	if rest, _ := io.ReadAll(out); len(rest) > 0 {
		t.Errorf("core printed more: %q", rest)
	}
	if code := core.wait(); code != 0 {
		t.Fatalf("core exit %d:\n%s", code, core.allLogs())
	}
}
