package file

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/capstan-agent/capstan/component/componenttest"
	"github.com/capstan-agent/capstan/spool"
)

// eventDeadline bounds the waits of tests that can only pass through the
// fsnotify path: far below their scan_interval (an hour), far above any
// event's delivery.
const eventDeadline = 20 * time.Second

// waitWithin polls cond until it holds, or fails after d saying what it
// waited for.
func waitWithin(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	componenttest.WaitFor(t, d, what, cond)
}

// TestEmptyFileReadOnFirstWrite: a file that is empty when first seen (as
// after every logrotate create) is read when it is first written, not at
// the next scan.
func TestEmptyFileReadOnFirstWrite(t *testing.T) {
	for _, tc := range []struct {
		name        string
		beforeStart bool // the file exists, empty, when the input starts
	}{
		{"created after start", false},
		{"empty at start", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Config{Include: []string{"$LOGS/*.log"}, ScanInterval: time.Hour}, 1)
			if tc.beforeStart {
				writeFile(t, h.path("a.log"), "")
			}
			h.start()
			if !tc.beforeStart {
				// Wait for the first scan to be done, so that the create is
				// seen as an event, not by that scan.
				waitWithin(t, eventDeadline, "the first scan", func() bool { return h.in.Stats().Scans.Load() >= 1 })
				writeFile(t, h.path("a.log"), "")
			}
			waitWithin(t, eventDeadline, "the empty file tracked", func() bool { return h.in.Stats().FilesTracked.Load() == 1 })
			appendFile(t, h.path("a.log"), "x\n")
			waitWithin(t, eventDeadline, "the line appended after the file was found empty", func() bool { return len(h.records()) == 1 })
			if got := h.records()[0].body; got != "x" {
				t.Fatalf("record %q, want x", got)
			}
		})
	}
}

// TestWriteEventForUntrackedFile: a write event for a matching path the
// input does not know (its create event was missed: a directory watched
// after the file appeared in it) reads the file at once; a write event for
// a path outside the include patterns, or excluded, does not track it.
func TestWriteEventForUntrackedFile(t *testing.T) {
	dir := t.TempDir()
	part := &memPartition{}
	in, err := New(Config{Name: "f", StartAt: "beginning", Include: []string{dir + "/*.log"}, Exclude: []string{dir + "/skip*"}, ScanInterval: time.Hour},
		Target{Partitions: []Partition{part}, PositionsPath: filepath.Join(dir, "positions")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	in.ctx = context.Background()
	in.reconcile() // the first scan: nothing there yet
	for _, name := range []string{"a.log", "other.txt", "skip.log"} {
		writeFile(t, filepath.Join(dir, name), "line of "+name+"\n")
		in.onEvent(fsnotify.Event{Name: filepath.Join(dir, name), Op: fsnotify.Write})
	}
	for in.readRound() {
	}
	if n := in.Stats().FilesTracked.Load(); n != 1 {
		t.Fatalf("%d files tracked, want only a.log", n)
	}
	recs := part.records(t)
	if len(recs) != 1 || recs[0].body != "line of a.log" {
		t.Fatalf("records %q, want the line of a.log", bodies(recs))
	}
}

// memPartition keeps appended batches in memory.
type memPartition struct {
	mu      sync.Mutex
	batches [][]byte
}

func (p *memPartition) Append(_ context.Context, b []byte) (spool.AppendResult, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.batches = append(p.batches, append([]byte(nil), b...))
	return spool.AppendResult{Batches: 1}, nil
}

func (p *memPartition) Sequence(uint64) (uint64, bool) { return 0, false }

func (p *memPartition) records(t testing.TB) []rec {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []rec
	for _, b := range p.batches {
		out = append(out, decodeAll(t, b)...)
	}
	return out
}
