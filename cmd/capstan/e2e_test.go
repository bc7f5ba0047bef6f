package main

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/capstan-agent/capstan/spool"
	"github.com/capstan-agent/capstan/spool/batch"
)

// TestEdgeToCoreExactlyOnceUnderKill runs an edge (file input → forward
// output) and a core (forward input → spool) as real capstan processes and
// SIGKILLs the edge, the core or both at random moments while the file grows,
// sometimes leaving the core down for a while. At the end the core's spool
// holds every line of the file exactly once.
func TestEdgeToCoreExactlyOnceUnderKill(t *testing.T) {
	if testing.Short() {
		t.Skip("runs agents for a while")
	}
	lines, rounds := 200_000, 8
	if os.Getenv("CAPSTAN_SOAK") != "" {
		lines, rounds = 1_000_000, 30
	}
	dir := t.TempDir()
	logFile := filepath.Join(dir, "logs", "app.log")
	os.MkdirAll(filepath.Dir(logFile), 0o755)
	ec := newEdgeCore(t, dir, logFile, "50ms", fmt.Sprintf("  archive: {type: file, path: %q}\n", filepath.Join(dir, "archive.log")))
	coreData := ec.coreData

	written := 0
	appendLines := func(n int) {
		f, err := os.OpenFile(logFile, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		var b []byte
		for i := written; i < written+n; i++ {
			b = fmt.Appendf(b, "line %07d %s\n", i, strings.Repeat("x", 180))
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
	for round := 0; round < rounds; round++ {
		if round == rounds-1 {
			perRound = lines - written
		}
		appendLines(perRound)
		time.Sleep(time.Duration(50+rand.IntN(400)) * time.Millisecond)
		switch round % 4 {
		case 0: // the edge
			kill(edge)
			edge = ec.startEdge()
		case 1: // the core
			kill(core)
			core = ec.startCore()
		case 2: // both
			edge.cmd.Process.Kill()
			core.cmd.Process.Kill()
			edge.wait()
			core.wait()
			core, edge = ec.startCore(), ec.startEdge()
		case 3: // the core, down for a while: the edge spools and retries
			kill(core)
			time.Sleep(time.Duration(200+rand.IntN(800)) * time.Millisecond)
			core = ec.startCore()
		}
	}
	// Wait for the core to hold as many records as lines were written,
	// then stop both cleanly.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var n uint64
		info, err := spool.Inspect(coreData)
		if err == nil && len(info.Partitions) > 0 {
			for _, p := range info.Partitions {
				n += p.Next - p.Oldest
			}
			if n >= uint64(written) {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited 2m for the core to hold %d lines; it holds %d (inspect: %v)\nedge:\n%s\ncore:\n%s", written, n, err, edge.allLogs(), core.allLogs())
		}
		time.Sleep(100 * time.Millisecond)
	}
	stopEdgeCore(t, edge, core)

	seen := make([]int, written)
	info, err := spool.Inspect(coreData)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range info.Partitions {
		err := spool.Scan(coreData, p.Key, 0, func(b batch.Batch) error {
			it := b.Records()
			var rec batch.Record
			for it.Next(&rec) {
				f := strings.Fields(string(rec.Body))
				n, err := strconv.Atoi(f[1])
				if len(f) != 3 || err != nil || n >= written {
					return fmt.Errorf("record %q is no line of the file", rec.Body)
				}
				seen[n]++
			}
			return it.Err()
		}, func(p spool.Problem) { t.Errorf("core spool: %s", p) })
		if err != nil {
			t.Fatal(err)
		}
	}
	var missing, dups int
	for i, c := range seen {
		switch {
		case c == 0:
			if missing++; missing < 5 {
				t.Errorf("line %d never reached the core", i)
			}
		case c > 1:
			if dups++; dups < 5 {
				t.Errorf("line %d is in the core %d times", i, c)
			}
		}
	}
	t.Logf("%d lines, %d kill rounds: %d missing, %d duplicated", written, rounds, missing, dups)
}

func freeTestPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestSIGTERMUnderLoadThenRestart: an agent tailing a large file into its
// stdout output is stopped with SIGTERM in the middle and started again;
// together the two runs print every line of the file exactly once, in order.
func TestSIGTERMUnderLoadThenRestart(t *testing.T) {
	dir := t.TempDir()
	logFile := filepath.Join(dir, "app.log")
	const n = 300_000
	// The file grows while the first run is stopped: a writer appends it in
	// chunks, so that the stop lands in the middle.
	f, err := os.Create(logFile)
	if err != nil {
		t.Fatal(err)
	}
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		defer f.Close()
		var b []byte
		for i := 0; i < n; i++ {
			b = fmt.Appendf(b, "line %07d\n", i)
			if (i+1)%5000 == 0 {
				f.Write(b)
				b = b[:0]
				time.Sleep(10 * time.Millisecond)
			}
		}
		f.Write(b)
	}()
	cfg := filepath.Join(dir, "capstan.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`data_dir: %s
log: {format: json}
http: {address: "127.0.0.1:0"}
inputs:
  app: {type: file, include: [%q], start_at: beginning}
outputs:
  console: {type: stdout}
`, filepath.Join(dir, "data"), logFile)), 0o644)

	var got []string
	for run := 0; len(got) < n; run++ {
		if run == 3 {
			t.Fatalf("after 3 runs only %d of %d lines printed", len(got), n)
		}
		p := startAgent(t, dir, env(), "-c", cfg)
		out := bufio.NewReader(p.stdout)
		if run == 0 {
			// Stop it once some lines are out: the rest is still being read.
			got = append(got, readLines(t, out, 1000)...)
			p.signal(syscall.SIGTERM)
		}
		for {
			l, err := out.ReadString('\n')
			if err != nil {
				break
			}
			got = append(got, strings.TrimSuffix(l, "\n"))
			if run > 0 && len(got) == n {
				p.signal(syscall.SIGTERM)
			}
		}
		if code := p.wait(); code != 0 {
			t.Fatalf("run %d: exit %d:\n%s", run, code, p.allLogs())
		}
		t.Logf("run %d: %d lines so far", run, len(got))
		<-writerDone
	}
	if len(got) != n {
		t.Fatalf("%d lines printed for %d in the file", len(got), n)
	}
	for i, l := range got {
		if l != fmt.Sprintf("line %07d", i) {
			t.Fatalf("line %d printed as %q", i, l)
		}
	}
}
