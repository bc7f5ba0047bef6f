package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/capstan-agent/capstan/shipper/loki/lokifake"
)

// TestLokiEdgeCoreKill: three files → edge → forward → core → loki output
// → the strict Loki fake, while the edge, the core or both are SIGKILLed
// at random moments, and the core is sometimes down for a while as the
// files keep growing (a backlog on the edge whose times span more than the
// fake's out-of-order window). At the end, after Loki's de-duplication of
// (stream, timestamp, line), every line is stored once, in its file's
// stream, and no entry was refused — for order or anything else.
func TestLokiEdgeCoreKill(t *testing.T) {
	if testing.Short() {
		t.Skip("runs agents for a while")
	}
	lines, rounds := 90_000, 8
	if os.Getenv("CAPSTAN_SOAK") != "" {
		lines, rounds = 600_000, 30
	}
	const files = 3
	// A window shorter than the outages below, longer than a request's
	// span of times (what a replay after a kill may repeat).
	const window = 500 * time.Millisecond
	fake := lokifake.Start(t, lokifake.Options{OutOfOrderWindow: window})
	dir := t.TempDir()
	logDir := filepath.Join(dir, "logs")
	os.MkdirAll(logDir, 0o755)
	ec := newEdgeCore(t, dir, filepath.Join(logDir, "*.log"), "20ms", fmt.Sprintf(`  loki:
    type: loki
    endpoint: %s
    labels: {job: input, filename: log.file.path}
    concurrency: 4
    # Two requests of a file's stream out at once, while their entries lie
    # within 100ms of each other (inside the fake's window, as the default
    # 1m is inside Loki's 1h).
    stream_in_flight: 2
    stream_in_flight_span: 100ms
    batch: {max_records: 500}
    retry: {initial: 20ms, max: 200ms}
`, fake.URL))

	path := func(f int) string { return filepath.Join(logDir, fmt.Sprintf("f%d.log", f)) }
	lineOf := func(i int) string { return fmt.Sprintf("line %07d %s", i, strings.Repeat("x", 186)) } // 200 bytes
	written := 0
	appendLines := func(n int) {
		var b [files][]byte
		for i := written; i < written+n; i++ {
			b[i%files] = append(append(b[i%files], lineOf(i)...), '\n')
		}
		for f := range files {
			fh, err := os.OpenFile(path(f), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := fh.Write(b[f]); err != nil {
				t.Fatal(err)
			}
			fh.Close()
		}
		written += n
	}
	// trickle appends while an agent is down, for about d: the lines are
	// read at times spread over it.
	trickle := func(d time.Duration) {
		for end := time.Now().Add(d); time.Now().Before(end) && written < lines; {
			appendLines(min(300, lines-written))
			time.Sleep(20 * time.Millisecond)
		}
	}
	appendLines(lines / 3)
	core, edge := ec.startCore(), ec.startEdge()
	per := (lines - written) / (2 * rounds)
	for round := range rounds {
		appendLines(min(per, lines-written))
		time.Sleep(time.Duration(50+rand.IntN(400)) * time.Millisecond)
		switch round % 4 {
		case 0:
			kill(edge)
			edge = ec.startEdge()
		case 1:
			kill(core)
			core = ec.startCore()
		case 2:
			kill(edge)
			kill(core)
			core, edge = ec.startCore(), ec.startEdge()
		case 3: // the core down for a while, the edge reading on: a backlog
			kill(core)
			trickle(3 * window)
			core = ec.startCore()
		}
		st := fake.Stats()
		t.Logf("round %d (kill %s): Loki stored %d, dropped %d replayed so far", round, []string{"edge", "core", "both", "core, down"}[round%4], st.Stored, st.Duplicates)
		if round < rounds-1 {
			trickle(time.Duration(rand.IntN(300)) * time.Millisecond)
		}
	}
	appendLines(lines - written)

	// Every line stored: wait for the count (a guard in startAgent bounds
	// the wait; the deadline names what was missing).
	// Stored or refused: a refused entry will not come (it is
	// dead-lettered), and the checks below say which.
	stored := func() int64 {
		st := fake.Stats()
		n := st.Stored
		for _, c := range st.Refused {
			n += c
		}
		return n
	}
	deadline := time.Now().Add(3 * time.Minute)
	for stored() < int64(written) {
		if time.Now().After(deadline) {
			t.Fatalf("after 3 minutes Loki holds or refused %d of %d lines (refused %v)", stored(), written, fake.Stats().Refused)
		}
		time.Sleep(50 * time.Millisecond)
	}
	stopEdgeCore(t, edge, core)

	st := fake.Stats()
	if len(st.Refused) != 0 {
		t.Errorf("Loki refused entries: %v", st.Refused)
	}
	seen := make([]int, written)
	streams := fake.Streams("fake")
	if len(streams) != files {
		t.Errorf("streams %v, want one per file", streams)
	}
	for _, s := range streams {
		for _, e := range fake.Entries("fake", s) {
			fld := strings.Fields(e.Line)
			n, err := strconv.Atoi(fld[1])
			if len(fld) != 3 || err != nil || n >= written {
				t.Fatalf("entry %q is no line of the files", e.Line)
			}
			if want := fmt.Sprintf(`{filename=%q, job="app"}`, path(n%files)); s != want {
				t.Errorf("line %d in stream %s, want %s", n, s, want)
			}
			seen[n]++
		}
	}
	var missing, dups int
	for i, c := range seen {
		switch {
		case c == 0:
			if missing++; missing < 5 {
				t.Errorf("line %d not in Loki", i)
			}
		case c > 1:
			if dups++; dups < 5 {
				t.Errorf("line %d in Loki %d times (as distinct entries: another timestamp)", i, c)
			}
		}
	}
	t.Logf("%d lines, %d kill rounds: %d missing, %d stored twice; Loki dropped %d replayed entries, %d requests",
		written, rounds, missing, dups, st.Duplicates, st.Requests)
}
