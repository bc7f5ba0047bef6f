package spool

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// CommitNoSync replaces the checkpoint like Commit (Load reads it, no
// temporary file is left), runs retention, and Sync makes it durable.
func TestCommitNoSync(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir, Options{SegmentBytes: 4096})
	p := mustStream(t, s, "logs", StreamOptions{MaxBytes: 64 << 10, MaxAge: time.Nanosecond}).Partition(0)
	ck := s.Checkpoints()
	if err := ck.CommitNoSync("nobody", map[Key]uint64{{"logs", 0}: 0}); err == nil || !strings.Contains(err.Error(), "unregistered") {
		t.Fatalf("commit for an unregistered consumer: %v", err)
	}
	if err := ck.Sync("nobody"); err != nil {
		t.Fatalf("sync without a file: %v", err)
	}
	if _, err := ck.Register("out"); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 40; i++ {
		mustAppend(t, p, mkBatch(0, uint64(i), 10, "ret"))
	}
	segs := p.Stats().Segments
	key := Key{"logs", 0}
	for _, off := range []uint64{10, 200, p.NextOffset()} {
		if err := ck.CommitNoSync("out", map[Key]uint64{key: off}); err != nil {
			t.Fatal(err)
		}
		if got, err := ck.Load("out"); err != nil || got[key] != off {
			t.Fatalf("after committing %d: %v %v", off, got, err)
		}
	}
	if err := ck.Sync("out"); err != nil {
		t.Fatal(err)
	}
	if got := p.Stats().Segments; got >= segs {
		t.Errorf("retention did not run: %d segments before, %d after", segs, got)
	}
	entries, _ := os.ReadDir(filepath.Join(dir, "checkpoints"))
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp") {
			t.Errorf("temporary file %s left", e.Name())
		}
	}
	if c, err := ck.Consumers(); err != nil || len(c) != 1 || c[0] != "out" {
		t.Errorf("consumers %v, %v", c, err)
	}
	// A durable Commit after fast ones replaces the file; fast ones go on.
	if err := ck.Commit("out", map[Key]uint64{key: 5}); err != nil {
		t.Fatal(err)
	}
	if err := ck.CommitNoSync("out", map[Key]uint64{key: 6}); err != nil {
		t.Fatal(err)
	}
	if got, _ := ck.Load("out"); got[key] != 6 {
		t.Errorf("after Commit then CommitNoSync: %v", got)
	}
}

func TestReplaceFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state")
	for _, content := range []string{"first", "second, longer", "3", "", "fifth"} {
		if err := ReplaceFile(path, []byte(content)); err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(path); string(b) != content {
			t.Fatalf("read %q, want %q", b, content)
		}
	}
	if err := SyncFile(path); err != nil {
		t.Fatal(err)
	}
	if err := ReplaceFile(filepath.Join(t.TempDir(), "missing", "state"), nil); err == nil {
		t.Fatal("replace in a missing directory succeeded")
	}
}

// exchangeFile leaves the new content at path and the old at spare, for
// any lengths, making path when it is missing.
func TestExchangeFile(t *testing.T) {
	dir := t.TempDir()
	path, spare := filepath.Join(dir, "state"), filepath.Join(dir, "state.prev")
	prev := ""
	for _, content := range []string{"first", "second, longer", "3", "", "fifth"} {
		if err := exchangeFile(path, spare, []byte(content)); err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(path); string(b) != content {
			t.Fatalf("read %q, want %q", b, content)
		}
		if b, err := os.ReadFile(spare); prev != "" && string(b) != prev {
			t.Fatalf("spare %q (%v), want %q", b, err, prev)
		}
		prev = content
	}
	if err := exchangeFile(filepath.Join(dir, "missing", "state"), filepath.Join(dir, "missing", "state.prev"), nil); err == nil {
		t.Fatal("exchange in a missing directory succeeded")
	}
}

// A commit whose file a power loss tore (its CRC does not match) is
// replaced at Load by the commit before it, kept in CONSUMER.prev, with
// ErrPreviousCheckpoint; with both damaged, Load says ErrBadCheckpoint. A
// file without a CRC (written before it was added) still loads.
func TestTornCheckpointUsesThePreviousCommit(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir, Options{SegmentBytes: 4096})
	p := mustStream(t, s, "logs", StreamOptions{}).Partition(0)
	for i := 0; i < 3; i++ {
		mustAppend(t, p, mkBatch(0, uint64(i), 10, "x"))
	}
	ck := s.Checkpoints()
	if _, err := ck.Register("out"); err != nil {
		t.Fatal(err)
	}
	key := Key{"logs", 0}
	for _, off := range []uint64{10, 27} {
		if err := ck.CommitNoSync("out", map[Key]uint64{key: off}); err != nil {
			t.Fatal(err)
		}
	}
	if c, err := ck.Consumers(); err != nil || len(c) != 1 || c[0] != "out" {
		t.Errorf("consumers %v, %v: the spare is not one", c, err)
	}
	path := filepath.Join(dir, "checkpoints", "out")
	b, _ := os.ReadFile(path)
	// A digit of the last commit changed, as a torn sector could: still
	// JSON, but not what was committed.
	torn := strings.Replace(string(b), `"logs/0":27`, `"logs/0":29`, 1)
	if torn == string(b) {
		t.Fatalf("file %s has no logs/0 at 27", b)
	}
	os.WriteFile(path, []byte(torn), 0o644)
	got, err := ck.Load("out")
	if !errors.Is(err, ErrPreviousCheckpoint) || got[key] != 10 {
		t.Fatalf("torn file: %v, %v; want the commit before (10) and ErrPreviousCheckpoint", got, err)
	}
	vs, err := Verify(dir, func(Problem) {})
	if err != nil || vs.Problems != 1 {
		t.Errorf("verify of a torn checkpoint: %+v, %v", vs, err)
	}
	os.WriteFile(path+prevSuffix, []byte(`{"version":1,"offs`), 0o644)
	if got, err := ck.Load("out"); !errors.Is(err, ErrBadCheckpoint) || errors.Is(err, ErrPreviousCheckpoint) || got != nil {
		t.Fatalf("both damaged: %v, %v", got, err)
	}
	os.WriteFile(path, []byte(`{"version":1,"offsets":{"logs/0":20}}`), 0o644)
	if got, err := ck.Load("out"); err != nil || got[key] != 20 {
		t.Fatalf("a file without a CRC: %v, %v", got, err)
	}
}
