package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// killRounds is how many times the kill tests kill capstan, how many lines
// they write, and how fast: so that the writer keeps writing until the
// last kill (kills come every 100–500 ms). More with CAPSTAN_SOAK=1.
func killRounds() (lines, rounds, rate int) {
	lines, rounds = 200_000, 8
	if os.Getenv("CAPSTAN_SOAK") != "" {
		lines, rounds = 1_000_000, 30
	}
	return lines, rounds, lines * 10 / (rounds * 3)
}

// lineWriter appends numbered lines to a file, a thousand at a time, at
// about rate lines per second, until stopped or n lines are written.
type lineWriter struct {
	path    string
	n       int
	written int
	stop    chan struct{}
	done    chan struct{}
}

func startWriter(t *testing.T, path string, n, rate int) *lineWriter {
	t.Helper()
	w := &lineWriter{path: path, n: n, stop: make(chan struct{}), done: make(chan struct{})}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(w.done)
		defer f.Close()
		var b []byte
		for w.written < n {
			b = b[:0]
			for i := 0; i < 1000 && w.written < n; i++ {
				b = fmt.Appendf(b, "line %07d %s\n", w.written, strings.Repeat("x", 180))
				w.written++
			}
			if _, err := f.Write(b); err != nil {
				return
			}
			select {
			case <-w.stop:
				return
			case <-time.After(time.Second * 1000 / time.Duration(rate)):
			}
		}
	}()
	t.Cleanup(func() { w.halt() })
	return w
}

func (w *lineWriter) halt() {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	<-w.done
}

// countingReceiver accepts connections and counts every numbered line it
// gets; a line cut short by the end of its connection (the sender was
// killed in the middle of a write) is counted as torn, not as a line.
type countingReceiver struct {
	ln    net.Listener
	mu    sync.Mutex
	seen  []int
	torn  int
	conns int
	bad   []string
	more  chan struct{} // gets a token when lines arrive
}

func startReceiver(t *testing.T, n int) *countingReceiver {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &countingReceiver{ln: ln, seen: make([]int, n), more: make(chan struct{}, 1)}
	var wg sync.WaitGroup
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			r.mu.Lock()
			r.conns++
			r.mu.Unlock()
			wg.Go(func() { r.serve(c) })
		}
	}()
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return r
}

func (r *countingReceiver) serve(c net.Conn) {
	defer c.Close()
	br := bufio.NewReaderSize(c, 1<<20)
	for {
		l, err := br.ReadSlice('\n')
		if err != nil {
			if len(l) > 0 {
				r.mu.Lock()
				r.torn++
				r.mu.Unlock()
			}
			return
		}
		f := bytes.Fields(l)
		n, perr := strconv.Atoi(string(f[1]))
		r.mu.Lock()
		if len(f) != 3 || perr != nil || n < 0 || n >= len(r.seen) {
			r.bad = append(r.bad, string(l))
		} else {
			r.seen[n]++
		}
		r.mu.Unlock()
		select {
		case r.more <- struct{}{}:
		default:
		}
	}
}

// count is how many distinct lines arrived, and how many copies beyond one.
func (r *countingReceiver) count() (distinct, dups int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.seen {
		if c > 0 {
			distinct++
			dups += c - 1
		}
	}
	return distinct, dups
}

// waitAll waits (up to a minute) for every line to arrive.
func (r *countingReceiver) waitAll(t *testing.T, n int) {
	t.Helper()
	deadline := time.After(time.Minute)
	for {
		if got, _ := r.count(); got == n {
			return
		}
		select {
		case <-r.more:
		case <-deadline:
			got, _ := r.count()
			t.Fatalf("after a minute %d of %d lines arrived", got, n)
		}
	}
}

// TestTCPOutputUnderKill: a writer appends numbered lines to a file;
// capstan tails it and ships it with its tcp output to a counting receiver;
// capstan is SIGKILLed at random moments and started again. Nothing is
// lost, and each kill re-sends at most what was in flight: the requests
// written and not yet acknowledged, concurrency × batch.max_records lines.
func TestTCPOutputUnderKill(t *testing.T) {
	if testing.Short() {
		t.Skip("runs agents for a while")
	}
	lines, rounds, rate := killRounds()
	const concurrency, maxRecords = 2, 500
	dir := t.TempDir()
	logFile := filepath.Join(dir, "app.log")
	recv := startReceiver(t, lines)
	cfg := filepath.Join(dir, "capstan.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`data_dir: %s
log: {format: json}
http: {address: "127.0.0.1:0"}
inputs:
  app: {type: file, include: [%q], start_at: beginning, poll_interval: 20ms}
outputs:
  out:
    type: tcp
    address: %q
    concurrency: %d
    batch: {max_records: %d}
    retry: {initial: 20ms, max: 200ms}
`, filepath.Join(dir, "data"), logFile, recv.ln.Addr().String(), concurrency, maxRecords)), 0o644)

	w := startWriter(t, logFile, lines, rate)
	p := startAgent(t, dir, env(), "-c", cfg)
	p.waitLog("agent started")
	kills := 0
	for round := 0; round < rounds; round++ {
		time.Sleep(time.Duration(100+rand.IntN(400)) * time.Millisecond)
		p.cmd.Process.Kill()
		p.wait()
		kills++
		p = startAgent(t, dir, env(), "-c", cfg)
		p.waitLog("agent started")
	}
	<-w.done
	recv.waitAll(t, lines)
	p.signal(syscall.SIGTERM)
	if code := p.wait(); code != 0 {
		t.Errorf("exit %d after SIGTERM:\n%s", code, p.allLogs())
	}
	got, dups := recv.count()
	recv.mu.Lock()
	torn, bad, conns := recv.torn, recv.bad, recv.conns
	recv.mu.Unlock()
	t.Logf("%d lines written while capstan was killed %d times: %d arrived, %d duplicated (%.3f%%), %d torn, %d connections",
		lines, kills, got, dups, 100*float64(dups)/float64(lines), torn, conns)
	if len(bad) > 0 {
		t.Errorf("%d lines that were never written, e.g. %q", len(bad), bad[0])
	}
	if bound := kills * concurrency * maxRecords; dups > bound {
		t.Errorf("%d duplicates for %d kills: more than in flight (%d requests × %d lines per kill = %d)",
			dups, kills, concurrency, maxRecords, bound)
	}
	if torn > kills {
		t.Errorf("%d torn lines for %d kills", torn, kills)
	}
	if w.written < lines || conns <= kills/2 {
		t.Errorf("the kills did not land while shipping: %d connections for %d kills", conns, kills)
	}
}

// TestFileOutputUnderKill: capstan tails a growing file into its file
// output, which rotates every 256 KiB, and is SIGKILLed at random moments.
// The output's files together hold every line exactly once, in order.
func TestFileOutputUnderKill(t *testing.T) {
	if testing.Short() {
		t.Skip("runs agents for a while")
	}
	lines, rounds, rate := killRounds()
	dir := t.TempDir()
	logFile := filepath.Join(dir, "in", "app.log")
	os.MkdirAll(filepath.Dir(logFile), 0o755)
	out := filepath.Join(dir, "out", "archive.log")
	os.MkdirAll(filepath.Dir(out), 0o755)
	cfg := filepath.Join(dir, "capstan.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`data_dir: %s
log: {format: json}
http: {address: "127.0.0.1:0"}
inputs:
  app: {type: file, include: [%q], start_at: beginning, poll_interval: 20ms}
outputs:
  archive:
    type: file
    path: %q
    max_bytes: 256KiB
    max_files: 1000
    batch: {max_records: 50} # small requests keep the output busy: kills land mid-write
`, filepath.Join(dir, "data"), logFile, out)), 0o644)

	w := startWriter(t, logFile, lines, rate)
	p := startAgent(t, dir, env(), "-c", cfg)
	p.waitLog("agent started")
	for round := 0; round < rounds; round++ {
		time.Sleep(time.Duration(100+rand.IntN(400)) * time.Millisecond)
		p.cmd.Process.Kill()
		p.wait()
		p = startAgent(t, dir, env(), "-c", cfg)
		p.waitLog("agent started")
	}
	<-w.done
	// Wait for the output to commit every line, then stop it cleanly.
	deadline := time.Now().Add(time.Minute)
	for committed(t, filepath.Join(dir, "data"), "archive") < uint64(lines) {
		if time.Now().After(deadline) {
			t.Fatalf("after a minute the output committed %d of %d lines", committed(t, filepath.Join(dir, "data"), "archive"), lines)
		}
		time.Sleep(50 * time.Millisecond)
	}
	p.signal(syscall.SIGTERM)
	if code := p.wait(); code != 0 {
		t.Errorf("exit %d after SIGTERM:\n%s", code, p.allLogs())
	}
	files := 0
	next := 0
	for i := 1000; i >= 0; i-- {
		name := out
		if i > 0 {
			name += "." + strconv.Itoa(i)
		}
		b, err := os.ReadFile(name)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		files++
		for _, l := range strings.SplitAfter(string(b), "\n") {
			if l == "" {
				continue
			}
			f := strings.Fields(l)
			n, err := strconv.Atoi(f[1])
			if len(f) != 3 || err != nil || !strings.HasSuffix(l, "\n") {
				t.Fatalf("%s: %q is no line of the input", name, l)
			}
			if n != next {
				t.Fatalf("%s: line %d where line %d should be (a line lost or written twice)", name, n, next)
			}
			next++
		}
	}
	if next != lines {
		t.Fatalf("the files hold %d lines of %d", next, lines)
	}
	t.Logf("%d lines, %d kills: every line once, in order, in %d files", lines, rounds, files)
}

// committed is the sum of an output's committed offsets in a data dir.
func committed(t testing.TB, dataDir, output string) uint64 {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dataDir, "checkpoints", output))
	if err != nil {
		return 0
	}
	var f struct{ Offsets map[string]uint64 }
	if err := json.Unmarshal(b, &f); err != nil {
		return 0
	}
	var n uint64
	for _, v := range f.Offsets {
		n += v
	}
	return n
}

// TestStdoutClosed: the reader of capstan's standard output goes away; the
// stdout output becomes degraded and says so, the process goes on serving,
// and SIGTERM stops it at once (a degraded output is not waited for), the
// log saying how much is left.
func TestStdoutClosed(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	cfgPath := filepath.Join(dir, "capstan.yaml")
	writeConfig(t, cfgPath, data, "shutdown_grace: 1h\n")
	fillSpool(t, data, 0, 1000)
	p := startAgent(t, dir, env(), "-c", cfgPath)
	addr := p.httpAddr()
	readLines(t, bufio.NewReader(p.stdout), 10)
	p.stdout.Close()
	fillSpool2(t, p, addr)
	line := p.waitLog(`"degraded"`)
	if !strings.Contains(line, "EPIPE") {
		t.Errorf("the degraded line does not say why: %s", line)
	}
	code, body := get(t, "http://"+addr+"/readyz")
	if code == 200 || !strings.Contains(body, "EPIPE") {
		t.Errorf("/readyz %d with the stdout output degraded:\n%s", code, body)
	}
	p.signal(syscall.SIGTERM)
	if code := p.wait(); code != 0 {
		t.Fatalf("exit %d:\n%s", code, p.allLogs())
	}
	if !strings.Contains(p.allLogs(), `"left_records"`) {
		t.Errorf("the log does not say how much is left:\n%s", p.allLogs())
	}
}

// fillSpool2 makes the agent write to its standard output after the reader
// left: lines sent to its tcp input.
func fillSpool2(t *testing.T, p *agentProc, httpAddr string) {
	t.Helper()
	waitReady(t, httpAddr)
	c, err := net.Dial("tcp", p.listenAddr("in"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := 0; i < 100; i++ {
		fmt.Fprintf(c, "after the reader left %d\n", i)
	}
}

// TestShutdownWithDestinationDown: an output whose peer is down does not
// hold the process for shutdown_grace; what it holds stays in the spool
// (the log says how much) and is delivered after the restart.
func TestShutdownWithDestinationDown(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // down
	cfgPath := filepath.Join(dir, "capstan.yaml")
	os.WriteFile(cfgPath, []byte(fmt.Sprintf(`data_dir: %s
log: {format: json}
http: {address: "127.0.0.1:0"}
shutdown_grace: 1h
outputs:
  peer: {type: tcp, address: %q, retry: {initial: 10ms, max: 50ms}}
`, data, addr)), 0o644)
	fillSpool(t, data, 0, 5000)
	p := startAgent(t, dir, env(), "-c", cfgPath)
	go io.Copy(io.Discard, p.stdout)
	p.waitLog(`"degraded"`)
	p.signal(syscall.SIGTERM)
	if code := p.wait(); code != 0 {
		t.Fatalf("exit %d:\n%s", code, p.allLogs())
	}
	logs := p.allLogs()
	if !strings.Contains(logs, `cannot deliver`) || !strings.Contains(logs, `"left_records":5000`) {
		t.Errorf("the log does not say the output could not deliver 5000 records:\n%s", logs)
	}
	// Back up: the next run delivers them.
	ln, err = net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	p = startAgent(t, dir, env(), "-c", cfgPath)
	go io.Copy(io.Discard, p.stdout)
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	got := readLines(t, bufio.NewReader(c), 5000)
	if got[0] != "line 0" || got[4999] != "line 4999" {
		t.Errorf("after the restart: %q … %q", got[0], got[4999])
	}
	p.signal(syscall.SIGTERM)
	if code := p.wait(); code != 0 {
		t.Fatalf("exit %d:\n%s", code, p.allLogs())
	}
}

// TestDeadLetterStream: an output that gives up (retry.max_attempts on a
// peer that is down) sends the records to its dead-letter stream with the
// reason; a second output ships that stream to a file.
func TestDeadLetterStream(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // down for good
	dead := filepath.Join(dir, "dead.ndjson")
	cfgPath := filepath.Join(dir, "capstan.yaml")
	os.WriteFile(cfgPath, []byte(fmt.Sprintf(`data_dir: %s
log: {format: json}
http: {address: "127.0.0.1:0"}
streams:
  default: {}
  dead: {}
inputs:
  in: {type: tcp, listen: ["127.0.0.1:0"]}
outputs:
  peer:
    type: tcp
    streams: [default]
    address: %q
    retry: {initial: 10ms, max: 20ms, max_attempts: 3}
    dead_letter: {stream: dead}
  kept: {type: file, streams: [dead], path: %q, encoding: ndjson}
`, data, addr, dead)), 0o644)
	fillSpool(t, data, 0, 100)
	p := startAgent(t, dir, env(), "-c", cfgPath)
	go io.Copy(io.Discard, p.stdout)
	deadline := time.Now().Add(time.Minute)
	for committed(t, data, "kept") < 100 {
		if time.Now().After(deadline) {
			t.Fatalf("after a minute %d of 100 records in the dead-letter file:\n%s", committed(t, data, "kept"), p.allLogs())
		}
		time.Sleep(20 * time.Millisecond)
	}
	_, metrics := get(t, "http://"+p.httpAddr()+"/metrics")
	for _, want := range []string{
		`capstan_output_dead_letter_records_total{name="peer",reason="retries_exhausted",type="tcp"} 100`,
		`capstan_output_failures_total{name="peer",reason="connect",type="tcp"}`,
		`capstan_output_records_total{name="kept",type="file"} 100`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	p.signal(syscall.SIGTERM)
	if code := p.wait(); code != 0 {
		t.Fatalf("exit %d:\n%s", code, p.allLogs())
	}
	b, _ := os.ReadFile(dead)
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) != 100 {
		t.Fatalf("dead-letter file holds %d lines", len(lines))
	}
	var rec struct {
		Attrs map[string]string
		Body  string
	}
	if err := json.Unmarshal([]byte(lines[7]), &rec); err != nil {
		t.Fatal(err)
	}
	if rec.Body != "line 7" || rec.Attrs["capstan.dead_letter.reason"] != "retries_exhausted" ||
		rec.Attrs["capstan.dead_letter.output"] != "peer" || rec.Attrs["capstan.dead_letter.origin"] != "default/0:7" ||
		!strings.Contains(rec.Attrs["capstan.dead_letter.message"], "connection refused") {
		t.Errorf("dead letter %s", lines[7])
	}
}
