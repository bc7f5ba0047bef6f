package spool

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestRetentionHonoursLowestCommit(t *testing.T) {
	s := openTest(t, t.TempDir(), Options{SegmentBytes: 4096})
	st := mustStream(t, s, "logs", StreamOptions{MaxBytes: 64 << 10, MaxAge: time.Nanosecond})
	p := st.Partition(0)
	ck := s.Checkpoints()
	if _, err := ck.Register("fast"); err != nil {
		t.Fatal(err)
	}
	if _, err := ck.Register("slow"); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 40; i++ {
		mustAppend(t, p, mkBatch(0, uint64(i), 10, "ret"))
	}
	segsBefore := p.Stats().Segments
	key := Key{"logs", 0}
	if err := ck.Commit("fast", map[Key]uint64{key: p.NextOffset()}); err != nil {
		t.Fatal(err)
	}
	if got := p.Stats().Segments; got != segsBefore {
		t.Fatalf("segments deleted with a consumer at 0: %d → %d", segsBefore, got)
	}
	mid := p.NextOffset() * 3 / 4
	if err := ck.Commit("slow", map[Key]uint64{key: mid}); err != nil {
		t.Fatal(err)
	}
	if p.OldestOffset() == 0 || p.OldestOffset() > mid {
		t.Fatalf("oldest %d after both committed past %d", p.OldestOffset(), mid)
	}
	// A consumer removed from the configuration no longer holds data back.
	ck.Unregister("slow")
	p.maintain(time.Now())
	if got := p.Stats().Segments; got != 1 {
		t.Fatalf("%d segments left, want only the active one", got)
	}
	// Its checkpoint is still there for when it comes back.
	if off, err := ck.Load("slow"); err != nil || off[key] != mid {
		t.Fatalf("slow's checkpoint: %v %v", off, err)
	}
}

func TestWhenFullBlockWaitsForCommit(t *testing.T) {
	s := openTest(t, t.TempDir(), Options{SegmentBytes: 4096})
	p := mustStream(t, s, "logs", StreamOptions{MaxBytes: 16 << 10}).Partition(0)
	ck := s.Checkpoints()
	ck.Register("out")
	var appended uint64
	for p.Stats().Bytes < 14<<10 {
		appended = mustAppend(t, p, mkBatch(0, 1, 10, "blk")).Next
	}
	// Full: an append waits, and gives up only with its context, writing nothing.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	for i := 0; ; i++ {
		if i == 1000 {
			t.Fatal("the partition never filled up")
		}
		if _, err := p.Append(ctx, mkBatch(0, 1, 10, "blk")); err != nil {
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("blocked append: %v", err)
			}
			break
		}
		appended += 10
	}
	cancel()
	if p.NextOffset() != appended {
		t.Fatalf("a refused append left data: next %d, want %d", p.NextOffset(), appended)
	}
	// A commit frees space and wakes the waiting append.
	done := make(chan error, 1)
	go func() {
		_, err := p.Append(context.Background(), mkBatch(0, 1, 10, "blk"))
		done <- err
	}()
	waitBlocked(t, p, done)
	if err := ck.Commit("out", map[Key]uint64{{"logs", 0}: appended}); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("append after commit: %v", err)
	}
	got, _, _ := readAll(t, p, p.OldestOffset())
	if len(got) == 0 || p.OldestOffset() == 0 {
		t.Fatal("nothing was freed")
	}
	// Close releases an append that waits.
	for p.Stats().Bytes+300 < 16<<10 {
		mustAppend(t, p, mkBatch(0, 1, 10, "blk"))
	}
	go func() {
		_, err := p.Append(context.Background(), mkBatch(0, 1, 10, "blk"))
		done <- err
	}()
	waitBlocked(t, p, done)
	s.Close()
	if err := <-done; !errors.Is(err, ErrClosed) {
		t.Fatalf("blocked append at close: %v", err)
	}
}

func TestWhenFullDropOldestCountsAndReportsGap(t *testing.T) {
	s := openTest(t, t.TempDir(), Options{SegmentBytes: 4096})
	p := mustStream(t, s, "logs", StreamOptions{MaxBytes: 16 << 10, WhenFull: DropOldest}).Partition(0)
	s.Checkpoints().Register("out") // never commits
	r := p.NewReader(0)
	for i := 0; i < 200; i++ {
		mustAppend(t, p, mkBatch(0, 1, 10, "drop"))
	}
	st := p.Stats()
	if st.DroppedSegments == 0 || st.DroppedRecords == 0 || st.Bytes > 16<<10 {
		t.Fatalf("stats %+v", st)
	}
	if st.DroppedRecords != p.OldestOffset() {
		t.Fatalf("dropped %d records, oldest offset %d", st.DroppedRecords, p.OldestOffset())
	}
	_, err := r.Next(1 << 20)
	var gap *GapError
	if !errors.As(err, &gap) || gap.From != 0 || gap.To != p.OldestOffset() || gap.Reason != GapDropOldest {
		t.Fatalf("reader at a dropped offset: %v", err)
	}
	if rg, err := r.Next(1 << 20); err != nil || rg.First != p.OldestOffset() {
		t.Fatalf("after the gap: %+v %v", rg, err)
	}
}

func TestMaxAgeKeepsUncommitted(t *testing.T) {
	s := openTest(t, t.TempDir(), Options{SegmentBytes: 4096})
	p := mustStream(t, s, "logs", StreamOptions{MaxAge: time.Millisecond}).Partition(0)
	s.Checkpoints().Register("out")
	for i := 0; i < 50; i++ {
		mustAppend(t, p, mkBatch(0, 1, 10, "age"))
	}
	time.Sleep(5 * time.Millisecond) // the commit below retains by the real clock: let MaxAge pass
	p.maintain(time.Now().Add(time.Hour))
	if p.OldestOffset() != 0 {
		t.Fatal("aged but uncommitted segments were deleted")
	}
	s.Checkpoints().Commit("out", map[Key]uint64{{"logs", 0}: 250})
	if p.OldestOffset() == 0 || p.OldestOffset() > 250 {
		t.Fatalf("oldest %d after commit at 250", p.OldestOffset())
	}
}

func TestSegmentAgeRoll(t *testing.T) {
	s := openTest(t, t.TempDir(), Options{SegmentAge: time.Millisecond})
	p := mustStream(t, s, "logs", StreamOptions{}).Partition(0)
	mustAppend(t, p, mkBatch(0, 1, 1, "roll"))
	later := time.Now().Add(time.Second) // well past SegmentAge, without sleeping for it
	p.maintain(later)
	if p.Stats().Segments != 2 {
		t.Fatalf("segments %d after age", p.Stats().Segments)
	}
	p.maintain(later.Add(time.Second)) // an empty active segment does not roll
	if p.Stats().Segments != 2 {
		t.Fatalf("empty segment rolled")
	}
}

func TestCheckpointsDurableAndDamage(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir, Options{})
	mustStream(t, s, "logs", StreamOptions{Partitions: 2})
	ck := s.Checkpoints()
	if err := ck.Commit("nobody", nil); err == nil {
		t.Fatal("commit for unregistered consumer accepted")
	}
	ck.Register("out")
	for i := range 2 {
		mustAppend(t, s.partition(Key{"logs", i}), mkBatch(0, 1, 40, "ck"))
	}
	want := map[Key]uint64{{"logs", 0}: 10, {"logs", 1}: 20}
	if err := ck.Commit("out", want); err != nil {
		t.Fatal(err)
	}
	ck.Commit("out", map[Key]uint64{{"logs", 1}: 30})
	want[Key{"logs", 1}] = 30
	s.Close()
	s2 := openTest(t, dir, Options{})
	got, err := s2.Checkpoints().Register("out")
	if err != nil || len(got) != 2 || got[Key{"logs", 0}] != 10 || got[Key{"logs", 1}] != 30 {
		t.Fatalf("reloaded %v %v", got, err)
	}
	if names, _ := s2.Checkpoints().Consumers(); len(names) != 1 || names[0] != "out" {
		t.Fatalf("consumers %v", names)
	}
	os.WriteFile(filepath.Join(dir, "checkpoints", "out"), []byte("{garbage"), 0o644)
	if _, err := s2.Checkpoints().Register("out"); !errors.Is(err, ErrBadCheckpoint) {
		t.Fatalf("damaged checkpoint: %v", err)
	}
	if tmp, _ := filepath.Glob(filepath.Join(dir, "checkpoints", "*.tmp*")); len(tmp) != 0 {
		t.Fatalf("temporary files left: %v", tmp)
	}
}

// waitBlocked waits until an append of p is blocked for space; it fails if
// the append finished instead.
func waitBlocked(t *testing.T, p *Partition, done <-chan error) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for p.Stats().BlockedAppends == 0 {
		select {
		case err := <-done:
			t.Fatalf("append did not block: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("append never blocked")
		}
		time.Sleep(time.Millisecond)
	}
}
