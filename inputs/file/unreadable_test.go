package file

import (
	"context"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// TestUnreadableWarnedOnce: a file that cannot be opened is warned about
// once, not at every scan; again when its size, mtime or mode changes, and
// when it becomes unreadable again after it was read. Each scan is a call
// of reconcile, so nothing here waits.
func TestUnreadableWarnedOnce(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.log")
	writeFile(t, path, "one\n")
	core, logs := observer.New(zap.WarnLevel)
	part := &memPartition{}
	in, err := New(Config{Name: "f", Include: []string{dir + "/*.log"}},
		Target{Partitions: []Partition{part}, PositionsPath: filepath.Join(dir, "positions")}, zap.New(core))
	if err != nil {
		t.Fatal(err)
	}
	var deny atomic.Bool
	deny.Store(true)
	in.openFile = func(p string) (*os.File, error) {
		if p == path && deny.Load() {
			return nil, &os.PathError{Op: "open", Path: p, Err: syscall.EACCES}
		}
		return os.Open(p)
	}
	in.ctx = context.Background()
	check := func(when string, warnings int, unreadable int64) {
		t.Helper()
		if n := logs.FilterMessage("cannot open file; not warned again until it changes").Len(); n != warnings {
			t.Fatalf("%s: %d warnings, want %d", when, n, warnings)
		}
		if n := in.Stats().FilesUnreadable.Load(); n != unreadable {
			t.Fatalf("%s: %d files unreadable, want %d", when, n, unreadable)
		}
		if n := in.Stats().Errors.Load(); n != uint64(warnings) {
			t.Fatalf("%s: %d errors counted, want %d (one per warning)", when, n, warnings)
		}
	}
	scans := func(n int) {
		for range n {
			in.reconcile()
			for in.readRound() {
			}
		}
	}

	scans(5)
	check("five scans of an unreadable file", 1, 1)
	appendFile(t, path, "two\n")
	scans(3)
	check("after it grew", 2, 1)
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	scans(3)
	check("after its mode changed", 3, 1)

	deny.Store(false)
	scans(1)
	check("once readable", 3, 0)
	if recs := part.records(t); len(recs) != 2 {
		t.Fatalf("%d records read once readable, want 2", len(recs))
	}
	// Unreadable again, unchanged: an open (after close_inactive, on the
	// next write) warns again, since it was read in between.
	tr := in.byPath[path]
	in.closeFile(tr)
	deny.Store(true)
	in.ensureOpen(tr)
	in.ensureOpen(tr)
	scans(2)
	check("unreadable again", 4, 1)

	// A file that goes away is no longer counted.
	os.Remove(path)
	scans(3)
	in.housekeeping()
	if n := in.Stats().FilesTracked.Load(); n != 0 {
		t.Fatalf("%d files tracked after the file was removed", n)
	}
	check("after it was removed", 4, 0)
}
