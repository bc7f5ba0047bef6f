package file

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestUnreadBytes: the gauge is the sum over tracked files of size − read
// position, as of the last poll or scan. Each scan is a call of reconcile,
// each poll one of onPoll, so nothing here waits.
func TestUnreadBytes(t *testing.T) {
	dir := t.TempDir()
	line := strings.Repeat("x", 99) + "\n"
	writeFile(t, filepath.Join(dir, "a.log"), strings.Repeat(line, 100)) // 10,000 bytes
	writeFile(t, filepath.Join(dir, "b.log"), strings.Repeat("b", 99)+"\n")
	writeFile(t, filepath.Join(dir, "empty.log"), "")
	in, err := New(Config{Name: "f", StartAt: "beginning", Include: []string{dir + "/*.log"}, MaxLineBytes: 1000, ReadBufferBytes: 4096},
		Target{Partitions: []Partition{&memPartition{}}, PositionsPath: filepath.Join(dir, "positions")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	in.ctx = context.Background()
	gauge := func(when string, want int64) {
		t.Helper()
		if got := in.Stats().UnreadBytes.Load(); got != want {
			t.Fatalf("%s: %d bytes unread, want %d", when, got, want)
		}
	}
	in.reconcile()
	gauge("found", 10_100)
	in.readRound() // one buffer of each: 4,000 bytes of a.log (whole lines), all of b.log
	in.onPoll()
	gauge("after one round", 6_000)
	appendFile(t, filepath.Join(dir, "a.log"), strings.Repeat(line, 5))
	appendFile(t, filepath.Join(dir, "empty.log"), strings.Repeat("y", 99)+"\n") // not like a.log: no copy
	in.reconcile()
	gauge("grown", 6_600)
	for in.readRound() {
	}
	in.onPoll()
	gauge("all read", 0)
}

// TestUnreadBytesWhileBlocked: while an append waits for a full stream, the
// gauge still grows with the files.
func TestUnreadBytesWhileBlocked(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.log")
	line := strings.Repeat("x", 99) + "\n"
	writeFile(t, path, strings.Repeat(line, 10_000)) // 1 MB
	part := &blockingPartition{release: make(chan struct{})}
	in, err := New(Config{Name: "f", StartAt: "beginning", Include: []string{dir + "/*.log"}, MaxLineBytes: 1000, ReadBufferBytes: 64 << 10,
		ScanInterval: 50 * time.Millisecond, PollInterval: 20 * time.Millisecond},
		Target{Partitions: []Partition{part}, PositionsPath: filepath.Join(dir, "positions")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- in.Run(ctx) }()
	defer func() { cancel(); <-done }()
	waitWithin(t, time.Minute, "the first append, which blocks", func() bool { return part.calls.Load() > 0 })
	appendFile(t, path, strings.Repeat(line, 5_000))
	waitWithin(t, time.Minute, "the gauge to count the bytes written while blocked", func() bool {
		return in.Stats().UnreadBytes.Load() >= 1_500_000-64<<10
	})
	close(part.release)
	waitWithin(t, time.Minute, "the gauge back to 0 once everything is read", func() bool {
		return in.Stats().Bytes.Load() == 1_500_000 && in.Stats().UnreadBytes.Load() == 0
	})
}
