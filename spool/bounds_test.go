package spool

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A checkpoint can never pass the partition's next offset: such a commit is
// refused whole, with an error that names everything, and nothing of it is
// written.
func TestCommitBeyondNextOffsetIsRefused(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir, Options{})
	st := mustStream(t, s, "logs", StreamOptions{Partitions: 2})
	mustAppend(t, st.Partition(0), mkBatch(0, 1, 10, "a"))
	mustAppend(t, st.Partition(1), mkBatch(0, 1, 30, "b"))
	ck := s.Checkpoints()
	ck.Register("out")
	if err := ck.Commit("out", map[Key]uint64{{"logs", 0}: 4, {"logs", 1}: 30}); err != nil {
		t.Fatalf("commit within bounds (the end itself included): %v", err)
	}
	path := filepath.Join(dir, "checkpoints", "out")
	before, _ := os.ReadFile(path)

	for _, tc := range []struct {
		name    string
		offsets map[Key]uint64
		key     Key
		offset  uint64
		next    uint64
	}{
		{"one past the end", map[Key]uint64{{"logs", 0}: 11}, Key{"logs", 0}, 11, 10},
		{"far past, beside a good one", map[Key]uint64{{"logs", 0}: 5, {"logs", 1}: 90002}, Key{"logs", 1}, 90002, 30},
	} {
		err := ck.Commit("out", tc.offsets)
		var be *BeyondEndError
		if !errors.As(err, &be) || !errors.Is(err, ErrBeyondEnd) {
			t.Fatalf("%s: %v, want a *BeyondEndError", tc.name, err)
		}
		if be.Consumer != "out" || be.Key != tc.key || be.Offset != tc.offset || be.Next != tc.next {
			t.Errorf("%s: error %+v", tc.name, be)
		}
		for _, want := range []string{"out", tc.key.String(), "beyond"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: %q does not name %q", tc.name, err, want)
			}
		}
		if after, _ := os.ReadFile(path); string(after) != string(before) {
			t.Errorf("%s: the checkpoint file changed: %s", tc.name, after)
		}
		if got, _ := ck.min(Key{"logs", 0}); got != 4 {
			t.Errorf("%s: retention sees %d for logs/0, want the last good commit 4", tc.name, got)
		}
	}
	if err := ck.Commit("out", map[Key]uint64{{"other", 0}: 1}); err == nil || !strings.Contains(err.Error(), "not open") {
		t.Errorf("commit to a partition not open: %v", err)
	}
}

// A reader asked to start past the end is no gap: it says so once, moves to
// the end, and reads every record appended from then on.
func TestReaderBeyondEndResumesAtTheEnd(t *testing.T) {
	s := openTest(t, t.TempDir(), Options{})
	p := mustStream(t, s, "logs", StreamOptions{}).Partition(0)
	mustAppend(t, p, mkBatch(0, 1, 10, "a"))
	r := p.NewReader(500)
	_, err := r.Next(1 << 20)
	var be *BeyondEndError
	if !errors.As(err, &be) || be.Offset != 500 || be.Next != 10 || be.Consumer != "" {
		t.Fatalf("reader at 500 of 10: %v", err)
	}
	var gap *GapError
	if errors.As(err, &gap) {
		t.Fatalf("a position past the end reported as a gap: %v", err)
	}
	if r.Offset() != 10 {
		t.Fatalf("reader at %d after the error, want 10", r.Offset())
	}
	if _, err := r.Next(1 << 20); !errors.Is(err, ErrNoData) {
		t.Fatalf("at the end: %v", err)
	}
	mustAppend(t, p, mkBatch(0, 2, 5, "b"))
	rg, err := r.Next(1 << 20)
	if err != nil || rg.First != 10 || rg.Next != 15 {
		t.Fatalf("records appended after: %+v %v", rg, err)
	}
}

// Every gap has From < To and a reason.
func TestGapReasons(t *testing.T) {
	t.Run("retention", func(t *testing.T) {
		s := openTest(t, t.TempDir(), Options{SegmentBytes: 4096})
		p := mustStream(t, s, "logs", StreamOptions{MaxBytes: 16 << 10}).Partition(0)
		for p.OldestOffset() == 0 {
			mustAppend(t, p, mkBatch(0, 1, 10, "ret")) // no consumer: retention frees freely
		}
		_, err := p.NewReader(0).Next(1 << 20)
		var gap *GapError
		if !errors.As(err, &gap) || gap.From != 0 || gap.To != p.OldestOffset() || gap.Reason != GapRetention {
			t.Fatalf("reader at a deleted offset: %v", err)
		}
		if !strings.Contains(gap.Error(), "retention") {
			t.Errorf("message %q lacks the reason", gap)
		}
	})
	t.Run("damaged", func(t *testing.T) {
		dir := t.TempDir()
		s := openTest(t, dir, Options{SegmentBytes: 4096})
		p := mustStream(t, s, "logs", StreamOptions{}).Partition(0)
		for p.Stats().Segments < 4 {
			mustAppend(t, p, mkBatch(0, 1, 10, "dmg"))
		}
		segs := p.segments()
		lostFrom, lostTo := segs[1].base, segs[2].base
		s.Close()
		removeSegmentFiles(segs[1])
		s = openTest(t, dir, Options{SegmentBytes: 4096})
		p = mustStream(t, s, "logs", StreamOptions{}).Partition(0)
		recs, _, skipped := readAll(t, p, 0)
		if skipped != 1 || uint64(len(recs)) != p.NextOffset()-(lostTo-lostFrom) {
			t.Fatalf("read %d records with %d skips", len(recs), skipped)
		}
		r := p.NewReader(lostFrom - 1)
		var gap *GapError
		for range 10 {
			if _, err := r.Next(1 << 20); errors.As(err, &gap) {
				break
			}
		}
		if gap == nil || gap.From != lostFrom || gap.To != lostTo || gap.Reason != GapDamaged {
			t.Fatalf("gap over the lost segment: %+v", gap)
		}
	})
}

// Verify names a checkpoint beyond the end of its partition, and so does
// Inspect.
func TestVerifyReportsCheckpointBeyondEnd(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir, Options{})
	p := mustStream(t, s, "logs", StreamOptions{}).Partition(0)
	mustAppend(t, p, mkBatch(0, 1, 10, "a"))
	s.Close()
	// Written by hand: the spool itself refuses such a commit.
	ckpt := filepath.Join(dir, "checkpoints", "out")
	if err := os.WriteFile(ckpt, []byte(`{"version":1,"offsets":{"logs/0":90002}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	var problems []Problem
	vs, err := Verify(dir, func(p Problem) { problems = append(problems, p) })
	if err != nil || vs.Problems != 1 || len(problems) != 1 {
		t.Fatalf("verify: %+v %v %v", vs, problems, err)
	}
	line := problems[0].String()
	for _, want := range []string{ckpt, "consumer out", "checkpoint 90002", "logs/0", "next offset 10"} {
		if !strings.Contains(line, want) {
			t.Errorf("problem %q does not say %q", line, want)
		}
	}
	info, err := Inspect(dir)
	if err != nil || len(info.Problems) != 1 || !strings.Contains(info.Problems[0], "checkpoint 90002") {
		t.Fatalf("inspect problems: %v %v", info.Problems, err)
	}
}
