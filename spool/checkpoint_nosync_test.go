package spool

import (
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
