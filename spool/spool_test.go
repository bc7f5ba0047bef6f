package spool

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func TestAppendAndReadEveryOffset(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir, Options{SegmentBytes: 8 << 10, IndexInterval: 1024})
	p := mustStream(t, s, "logs", StreamOptions{Partitions: 2}).Partition(1)
	want := map[uint64]string{}
	for i := 0; i < 200; i++ {
		n := 1 + i%7
		res := mustAppend(t, p, mkBatch(0, uint64(i), n, "a"))
		for j := 0; j < n; j++ {
			want[res.Base+uint64(j)] = fmt.Sprintf("a-%d-%d", i, j)
		}
	}
	if st := p.Stats(); st.Segments < 3 {
		t.Fatalf("expected several segments, got %d", st.Segments)
	}
	end := p.NextOffset()
	if end != uint64(len(want)) {
		t.Fatalf("next offset %d, want %d", end, len(want))
	}
	for from := uint64(0); from < end; from += 3 {
		got, bad, skipped := readAll(t, p, from)
		if bad+skipped != 0 || len(got) != int(end-from) {
			t.Fatalf("from %d: %d records, %d bad, %d skipped", from, len(got), bad, skipped)
		}
		for off, body := range got {
			if want[off] != body {
				t.Fatalf("offset %d: %q, want %q", off, body, want[off])
			}
		}
	}
}

func TestReaderRangesAreWholeBatchesInOneFile(t *testing.T) {
	s := openTest(t, t.TempDir(), Options{SegmentBytes: 16 << 10})
	p := mustStream(t, s, "logs", StreamOptions{}).Partition(0)
	for i := 0; i < 100; i++ {
		mustAppend(t, p, mkBatch(0, uint64(i), 3, "x"))
	}
	r := p.NewReader(4) // inside the second batch
	rg, err := r.Next(1000)
	if err != nil {
		t.Fatal(err)
	}
	if rg.First != 3 || rg.Batches < 1 || rg.Len > 1000+200 {
		t.Fatalf("range %+v", rg)
	}
	prevNext := rg.Next
	for {
		rg, err = r.Next(1000)
		if errors.Is(err, ErrNoData) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if rg.First != prevNext {
			t.Fatalf("range starts at %d, previous ended at %d", rg.First, prevNext)
		}
		if fi, _ := rg.File.Stat(); rg.Pos+rg.Len > fi.Size() {
			t.Fatalf("range past its file: %+v size %d", rg, fi.Size())
		}
		prevNext = rg.Next
	}
	if prevNext != 300 {
		t.Fatalf("read up to %d, want 300", prevNext)
	}
}

func TestReopenContinues(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir, Options{SegmentBytes: 8 << 10})
	p := mustStream(t, s, "logs", StreamOptions{Partitions: 3}).Partition(2)
	for i := 0; i < 100; i++ {
		mustAppend(t, p, mkBatch(0, uint64(i), 2, "r"))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	s2 := openTest(t, dir, Options{SegmentBytes: 8 << 10})
	p2 := mustStream(t, s2, "logs", StreamOptions{Partitions: 3}).Partition(2)
	if p2.NextOffset() != 200 {
		t.Fatalf("next offset after reopen %d", p2.NextOffset())
	}
	if st := p2.Stats(); st.RecoveryBytesCut != 0 {
		t.Fatalf("clean reopen cut %d bytes", st.RecoveryBytesCut)
	}
	res := mustAppend(t, p2, mkBatch(0, 100, 2, "r"))
	if res.Base != 200 {
		t.Fatalf("append after reopen at %d", res.Base)
	}
	got, bad, skipped := readAll(t, p2, 0)
	if len(got) != 202 || bad+skipped != 0 {
		t.Fatalf("%d records, %d bad, %d skipped", len(got), bad, skipped)
	}
}

func TestPartitionsCannotShrink(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir, Options{})
	mustStream(t, s, "logs", StreamOptions{Partitions: 4})
	s.Close()
	s2 := openTest(t, dir, Options{})
	if _, err := s2.Stream("logs", StreamOptions{Partitions: 2}); err == nil {
		t.Fatal("shrinking partitions was accepted")
	}
	if st, err := s2.Stream("logs", StreamOptions{Partitions: 6}); err != nil || len(st.Partitions()) != 6 {
		t.Fatalf("growing partitions: %v", err)
	}
}

func TestLockAndAgentID(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir, Options{})
	if _, err := Open(dir, Options{}); !errors.Is(err, ErrLocked) {
		t.Fatalf("second open: %v, want ErrLocked", err)
	}
	id := s.AgentID()
	if id == ([16]byte{}) {
		t.Fatal("zero agent id")
	}
	s.Close()
	s2 := openTest(t, dir, Options{})
	if s2.AgentID() != id {
		t.Fatal("agent id changed across restarts")
	}
	s2.Close()
	os.WriteFile(filepath.Join(dir, "agent.id"), []byte("zz\n"), 0o644)
	if _, err := Open(dir, Options{}); err == nil {
		t.Fatal("a damaged agent.id was accepted")
	}
}

func TestBadAppends(t *testing.T) {
	s := openTest(t, t.TempDir(), Options{})
	p := mustStream(t, s, "logs", StreamOptions{}).Partition(0)
	good := mkBatch(0, 1, 2, "g")
	tests := []struct {
		name string
		b    []byte
	}{
		{"garbage", []byte("not a batch at all, but long enough to have a header of fifty-five bytes")},
		{"truncated", good[:len(good)-3]},
		{"empty", mkBatch(0, 1, 0, "e")},
		{"good then garbage", append(append([]byte{}, good...), 1, 2, 3)},
	}
	for _, tt := range tests {
		if _, err := p.Append(context.Background(), tt.b); err == nil {
			t.Errorf("%s: accepted", tt.name)
		}
	}
	if p.NextOffset() != 0 || p.Stats().Bytes != 0 {
		t.Fatalf("a refused append left data: next %d", p.NextOffset())
	}
}

func TestDedupByProducerSequence(t *testing.T) {
	dir := t.TempDir()
	opts := Options{SegmentBytes: 4 << 10}
	s := openTest(t, dir, opts)
	p := mustStream(t, s, "logs", StreamOptions{}).Partition(0)
	for seq := uint64(1); seq <= 100; seq++ {
		mustAppend(t, p, mkBatch(7, seq*100, 2, "d"))
		mustAppend(t, p, mkBatch(8, seq*100, 1, "e"))
	}
	// A resend of old batches, several in one append, mixed with a new one.
	var multi []byte
	multi = append(multi, mkBatch(7, 5000, 2, "d")...)
	multi = append(multi, mkBatch(7, 10100, 2, "d")...)
	multi = append(multi, mkBatch(8, 300, 1, "e")...)
	res := mustAppend(t, p, multi)
	if res.Duplicates != 2 || res.Batches != 1 || res.Next-res.Base != 2 {
		t.Fatalf("mixed append: %+v", res)
	}
	if seq, ok := p.Sequence(7); !ok || seq != 10100 {
		t.Fatalf("sequence of producer 7: %d %v", seq, ok)
	}
	next := p.NextOffset()
	s.Close()

	// After a restart the table comes back from the snapshot and the tail,
	// also with the newest snapshot damaged.
	for _, damage := range []bool{false, true} {
		if damage {
			segs, _ := filepath.Glob(filepath.Join(dir, "spool/logs/0/*.producers"))
			os.WriteFile(segs[len(segs)-1], []byte("junk"), 0o644)
		}
		s2 := openTest(t, dir, opts)
		p2 := mustStream(t, s2, "logs", StreamOptions{}).Partition(0)
		for _, seq := range []uint64{100, 5000, 10000} {
			if res := mustAppend(t, p2, mkBatch(7, seq, 2, "d")); res.Duplicates != 1 {
				t.Fatalf("damage %v: resent sequence %d stored again", damage, seq)
			}
		}
		if p2.NextOffset() != next {
			t.Fatalf("next %d, want %d", p2.NextOffset(), next)
		}
		s2.Close()
	}
}

func TestConcurrentPartitionsAndReaders(t *testing.T) {
	s := openTest(t, t.TempDir(), Options{SegmentBytes: 64 << 10})
	st := mustStream(t, s, "logs", StreamOptions{Partitions: 4})
	const batches = 300
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		p := st.Partition(i)
		wg.Add(2)
		go func() {
			defer wg.Done()
			for b := 0; b < batches; b++ {
				if _, err := p.Append(context.Background(), mkBatch(0, uint64(b), 4, fmt.Sprint("p", p.ID()))); err != nil {
					t.Error(err)
					return
				}
			}
		}()
		go func() { // a follower that waits for data
			defer wg.Done()
			r := p.NewReader(0)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			for r.Offset() < batches*4 {
				if err := p.Wait(ctx, r.Offset()); err != nil {
					t.Error(err)
					return
				}
				if _, err := r.Next(1 << 20); err != nil && !errors.Is(err, ErrNoData) {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	for i := 0; i < 4; i++ {
		got, bad, skipped := readAll(t, st.Partition(i), 0)
		if len(got) != batches*4 || bad+skipped != 0 {
			t.Fatalf("partition %d: %d records %d bad %d skipped", i, len(got), bad, skipped)
		}
	}
}

func TestFsyncPolicies(t *testing.T) {
	for _, pol := range []FsyncPolicy{FsyncNever, FsyncInterval, FsyncAlways} {
		dir := t.TempDir()
		s := openTest(t, dir, Options{Fsync: pol, FsyncInterval: 10 * time.Millisecond, SegmentBytes: 4096})
		p := mustStream(t, s, "logs", StreamOptions{}).Partition(0)
		for i := 0; i < 50; i++ {
			mustAppend(t, p, mkBatch(0, uint64(i), 3, "f"))
		}
		if err := s.Sync(); err != nil {
			t.Fatalf("%s: sync: %v", pol, err)
		}
		s.Close()
		s2 := openTest(t, dir, Options{Fsync: pol})
		if got := mustStream(t, s2, "logs", StreamOptions{}).Partition(0).NextOffset(); got != 150 {
			t.Fatalf("%s: next %d", pol, got)
		}
	}
	if _, err := Open(t.TempDir(), Options{Fsync: "sometimes"}); err == nil {
		t.Fatal("bad fsync policy accepted")
	}
}

func TestStreamOptionsValidation(t *testing.T) {
	s := openTest(t, t.TempDir(), Options{SegmentBytes: 1 << 20})
	tests := []StreamOptions{
		{Partitions: -1},
		{Partitions: 5000},
		{WhenFull: "explode"},
		{MaxBytes: 12 << 10, Partitions: 4}, // less than MinPartitionBytes each
	}
	for _, o := range tests {
		if _, err := s.Stream("x", o); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
	if _, err := s.Stream("../evil", StreamOptions{}); err == nil {
		t.Error("path in stream name accepted")
	}
}

func TestBytesFrom(t *testing.T) {
	s := openTest(t, t.TempDir(), Options{SegmentBytes: 4096, IndexInterval: 512})
	p := mustStream(t, s, "logs", StreamOptions{}).Partition(0)
	var sizes []int64 // bytes of batch i, each of 3 records
	for i := 0; i < 200; i++ {
		b := mkBatch(0, uint64(i), 3, "lag")
		sizes = append(sizes, int64(len(b)))
		mustAppend(t, p, b)
	}
	if p.Stats().Segments < 3 {
		t.Fatal("want several segments")
	}
	total := p.Stats().Bytes
	for _, off := range []uint64{0, 1, 3, 50, 91, 299, 300, 451, 599, 600, 900} {
		var want int64
		for i, sz := range sizes {
			if uint64(i*3+3) > off { // the batch holds offsets at or after off
				want += sz
			}
		}
		if got := p.BytesFrom(off); got != want {
			t.Errorf("BytesFrom(%d) = %d, want %d (of %d)", off, got, want, total)
		}
	}
}

// A crash soon after a roll leaves the new segment without its producer
// snapshot (it is written once the segment before is durable): the next open
// rebuilds the table from the segment before, and dedup still holds.
func TestMissingSnapshotOfActiveSegment(t *testing.T) {
	dir := t.TempDir()
	opts := Options{SegmentBytes: 4096}
	s := openTest(t, dir, opts)
	p := mustStream(t, s, "logs", StreamOptions{}).Partition(0)
	seqs := map[uint64]uint64{}
	for i := 0; p.Stats().Segments < 4; i++ {
		prod := uint64(1 + i%3)
		seqs[prod]++
		mustAppend(t, p, mkBatch(prod, seqs[prod], 2, "snap"))
	}
	active := p.active()
	s.Close()
	snap := segmentName(filepath.Dir(active.path), active.base, producerSuffix)
	if err := os.Remove(snap); err != nil {
		t.Fatalf("the active segment's snapshot was not written at close: %v", err)
	}
	s2 := openTest(t, dir, opts)
	p2 := mustStream(t, s2, "logs", StreamOptions{}).Partition(0)
	for prod, seq := range seqs {
		if got, ok := p2.Sequence(prod); !ok || got != seq {
			t.Errorf("producer %d: sequence %d %v after reopen, want %d", prod, got, ok, seq)
		}
		if res := mustAppend(t, p2, mkBatch(prod, seq, 2, "again")); res.Duplicates != 1 {
			t.Errorf("producer %d: a re-sent batch was stored again", prod)
		}
	}
}

// Every fsync of a partition is counted and timed; failures are counted.
func TestFsyncStats(t *testing.T) {
	s := openTest(t, t.TempDir(), Options{Fsync: FsyncAlways, SegmentBytes: 4096})
	p := mustStream(t, s, "logs", StreamOptions{}).Partition(0)
	for i := 0; i < 50; i++ {
		mustAppend(t, p, mkBatch(0, uint64(i), 3, "f"))
	}
	st := p.Stats()
	if st.FsyncCount < 50 || st.FsyncErrors != 0 {
		t.Fatalf("after 50 appends under fsync always: %d fsyncs, %d errors", st.FsyncCount, st.FsyncErrors)
	}
	if st.FsyncMaxSeconds < st.FsyncLastSeconds || st.FsyncSeconds < st.FsyncMaxSeconds || st.FsyncSeconds <= 0 {
		t.Fatalf("durations: sum %g, max %g, last %g", st.FsyncSeconds, st.FsyncMaxSeconds, st.FsyncLastSeconds)
	}
	f, err := os.CreateTemp(t.TempDir(), "closed")
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := p.fdatasync(f); err == nil {
		t.Fatal("fsync of a closed file succeeded")
	}
	if got := p.Stats(); got.FsyncErrors != 1 || got.FsyncCount != st.FsyncCount+1 {
		t.Fatalf("a failed fsync: %d errors of %d", got.FsyncErrors, got.FsyncCount)
	}
}
