package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/capstan-agent/capstan/spool"
)

const benchUsage = `Usage: capstan bench [flags]

Measure capstan end to end with real processes on this machine: it writes a
file of numbered lines, runs agents (this binary, "capstan run") that tail it
and ship it, and counts the lines a TCP receiver gets.

  -hops 1    file → spool → tcp output → counting receiver (one agent)
  -hops 2    file → edge spool → forward → core spool → tcp output → receiver

It prints lines/s from start to the last line received, the CPU seconds of
each agent (user+system, from /proc) per line, and each agent's peak RSS.
With -backlog the edge first spools the whole file with its output's peer
down, then the core starts: the edge's memory while it ships a backlog.
With -processors the lines are JSON logs and the (edge) agent's input runs a
typical processor chain on them before the spool: json merge, rename,
delete, a filter and an e-mail redact.

Flags:
`

// runBench runs `capstan bench` and returns the exit code.
func runBench(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("capstan bench", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	lines := fs.Int("lines", 2_000_000, "lines to ship")
	lineBytes := fs.Int("line-bytes", 200, "bytes per line, newline included")
	hops := fs.Int("hops", 2, "1: one agent; 2: edge and core")
	backlog := fs.Bool("backlog", false, "spool everything on the edge before the core starts (with -hops 2)")
	dir := fs.String("dir", "", "work directory (default: a temporary one, removed after)")
	procs := fs.Bool("processors", false, "JSON lines through a typical processor chain on the (edge) input")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) { // help on stdout, as every command
			fmt.Fprint(stdout, benchUsage)
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			return 0
		}
		fmt.Fprintf(stderr, "capstan bench: %v (see capstan bench --help)\n", err)
		return 2
	}
	if *lines <= 0 || *lineBytes < 16 || (*hops != 1 && *hops != 2) || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "capstan bench: want -lines > 0, -line-bytes >= 16, -hops 1 or 2 (see capstan bench --help)")
		return 2
	}
	b := &bench{lines: *lines, lineBytes: *lineBytes, hops: *hops, backlog: *backlog && *hops == 2, out: stdout, processors: *procs}
	if err := b.run(*dir); err != nil {
		fmt.Fprintf(stderr, "capstan bench: %v\n", err)
		return 1
	}
	return 0
}

type bench struct {
	lines, lineBytes, hops int
	backlog, processors    bool
	out                    io.Writer

	dir      string
	received atomic.Int64
	procs    []*benchProc
}

type benchProc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	peak int64         // VmHWM, bytes
	cpu  time.Duration
}

func (p *benchProc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (b *bench) run(dir string) error {
	if dir == "" {
		d, err := os.MkdirTemp("", "capstan-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	b.dir = dir
	defer b.stopAll()
	input := filepath.Join(dir, "in", "app.log")
	fmt.Fprintf(b.out, "writing %d lines of %d bytes to %s\n", b.lines, b.lineBytes, input)
	if err := writeLines(input, b.lines, b.lineBytes, b.processors); err != nil {
		return err
	}
	recv, err := b.receive()
	if err != nil {
		return err
	}
	defer recv.Close()

	start := time.Now()
	if b.hops == 1 {
		if _, err := b.start("agent", b.oneHopConfig(dir, input, recv.Addr().String())); err != nil {
			return err
		}
	} else {
		corePort, err := freePort()
		if err != nil {
			return err
		}
		if !b.backlog {
			if _, err := b.start("core", coreConfig(dir, corePort, recv.Addr().String())); err != nil {
				return err
			}
		}
		edge, err := b.start("edge", b.edgeConfig(dir, input, corePort))
		if err != nil {
			return err
		}
		if b.backlog {
			if err := b.waitSpooled(filepath.Join(dir, "edge"), edge); err != nil {
				return err
			}
			fmt.Fprintf(b.out, "edge spooled the backlog in %v; starting the core\n", time.Since(start).Round(time.Millisecond))
			start = time.Now()
			if _, err := b.start("core", coreConfig(dir, corePort, recv.Addr().String())); err != nil {
				return err
			}
		}
	}
	for b.received.Load() < int64(b.lines) {
		for _, p := range b.procs {
			if p.exited() {
				return fmt.Errorf("%s exited early (its log: %s.log)", p.name, filepath.Join(b.dir, p.name))
			}
			p.sample()
		}
		time.Sleep(20 * time.Millisecond)
	}
	elapsed := time.Since(start)
	for _, p := range b.procs {
		p.sample()
	}
	time.Sleep(time.Second) // anything more would be a duplicate
	got := b.received.Load()
	fmt.Fprintf(b.out, "%d lines in %v: %.2f M lines/s, %.0f MB/s\n", b.lines, elapsed.Round(time.Millisecond),
		float64(b.lines)/elapsed.Seconds()/1e6, float64(b.lines*b.lineBytes)/elapsed.Seconds()/1e6)
	for _, p := range b.procs {
		fmt.Fprintf(b.out, "  %-5s CPU %6.2fs = %.2f µs/line, peak RSS %.1f MiB\n", p.name, p.cpu.Seconds(),
			float64(p.cpu.Microseconds())/float64(b.lines), float64(p.peak)/(1<<20))
	}
	if got != int64(b.lines) {
		return fmt.Errorf("the receiver got %d lines for %d sent", got, b.lines)
	}
	return nil
}

// writeLines writes n numbered lines of size bytes each: plain text, or
// JSON logs as an application writes them.
func writeLines(path string, n, size int, asJSON bool) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	pad := bytes.Repeat([]byte("x"), size)
	line := make([]byte, 0, size)
	for i := 0; i < n; i++ {
		if asJSON {
			line = strconv.AppendInt(append(line[:0], `{"level":"info","msg":"user alice@example.com logged in","n":`...), int64(i), 10)
			line = append(line, `,"pad":"`...)
			line = append(line, pad[:max(0, size-3-len(line))]...)
			w.Write(append(line, '"', '}', '\n'))
			continue
		}
		line = strconv.AppendInt(append(line[:0], "line "...), int64(i), 10)
		line = append(line, ' ')
		line = append(line, pad[:max(0, size-1-len(line))]...)
		w.Write(append(line, '\n'))
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// receive counts the newlines every connection to it sends.
func (b *bench) receive() (net.Listener, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 256<<10)
				for {
					n, err := c.Read(buf)
					b.received.Add(int64(bytes.Count(buf[:n], []byte{'\n'})))
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln, nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

const benchCommon = `log: {format: json, level: warn}
http: {address: "127.0.0.1:0"}
spool: {fsync: never}
`

// benchChain is the typical chain of -processors: what a Kubernetes
// application's JSON log gets at the edge.
const benchChain = `
    processors:
      - {type: json, merge: true}
      - {type: rename, from: msg, to: message}
      - {type: delete, fields: [pad]}
      - {type: filter, drop_if: 'attrs["level"] == "trace"'}
      - {type: redact, detectors: [email]}
`

func (b *bench) input(input string) string {
	in := fmt.Sprintf("  app:\n    type: file\n    include: [%q]\n    start_at: beginning\n", input)
	if b.processors {
		in += strings.TrimPrefix(benchChain, "\n")
	}
	return in
}

func (b *bench) oneHopConfig(dir, input, recv string) string {
	return fmt.Sprintf(`data_dir: %s
%sinputs:
%soutputs:
  receiver: {type: tcp, address: %q}
`, filepath.Join(dir, "agent"), benchCommon, b.input(input), recv)
}

func (b *bench) edgeConfig(dir, input string, corePort int) string {
	return fmt.Sprintf(`data_dir: %s
%sinputs:
%soutputs:
  core: {type: forward, endpoints: ["127.0.0.1:%d"]}
`, filepath.Join(dir, "edge"), benchCommon, b.input(input), corePort)
}

func coreConfig(dir string, port int, recv string) string {
	return fmt.Sprintf(`data_dir: %s
%sinputs:
  edges: {type: forward, listen: ["127.0.0.1:%d"]}
outputs:
  receiver: {type: tcp, address: %q}
`, filepath.Join(dir, "core"), benchCommon, port, recv)
}

// start runs this binary as an agent with the given configuration.
func (b *bench) start(name, cfg string) (*benchProc, error) {
	path := filepath.Join(b.dir, name+".yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		return nil, err
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(b.dir, name+".log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, "run", "-c", path)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &benchProc{name: name, cmd: cmd, done: make(chan struct{})}
	go func() {
		cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	b.procs = append(b.procs, p)
	return p, nil
}

// waitSpooled waits until the edge's spool holds every line.
func (b *bench) waitSpooled(dataDir string, edge *benchProc) error {
	for {
		if edge.exited() {
			return fmt.Errorf("edge exited early (its log: %s)", filepath.Join(b.dir, "edge.log"))
		}
		edge.sample()
		if info, err := spool.Inspect(dataDir); err == nil {
			var n uint64
			for _, p := range info.Partitions {
				n += p.Next
			}
			if n >= uint64(b.lines) {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// sample reads the process's CPU time and peak RSS from /proc.
func (p *benchProc) sample() {
	pid := p.cmd.Process.Pid
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		// Fields after the command name, which is in parentheses.
		if i := bytes.LastIndexByte(b, ')'); i > 0 {
			f := strings.Fields(string(b[i+1:]))
			if len(f) > 13 {
				ut, _ := strconv.ParseInt(f[11], 10, 64)
				st, _ := strconv.ParseInt(f[12], 10, 64)
				p.cpu = time.Duration(ut+st) * time.Second / 100 // USER_HZ
			}
		}
	}
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
				kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
				p.peak = kb << 10
			}
		}
	}
}

func (b *bench) stopAll() {
	for _, p := range b.procs {
		if !p.exited() {
			p.cmd.Process.Signal(syscall.SIGTERM)
		}
	}
	timeout := time.After(30 * time.Second)
	for _, p := range b.procs {
		select {
		case <-p.done:
		case <-timeout:
			p.cmd.Process.Kill()
			<-p.done
		}
	}
}
