package spool

import (
	"errors"
	"testing"
)

// CommitNoSync refuses an offset past the end as Commit does.
func TestCommitNoSyncBeyondEndIsRefused(t *testing.T) {
	s := openTest(t, t.TempDir(), Options{})
	st := mustStream(t, s, "logs", StreamOptions{})
	if _, err := s.Checkpoints().Register("out"); err != nil {
		t.Fatal(err)
	}
	err := s.Checkpoints().CommitNoSync("out", map[Key]uint64{{Stream: st.Name(), Partition: 0}: 5})
	if !errors.Is(err, ErrBeyondEnd) {
		t.Fatalf("CommitNoSync past the end: %v", err)
	}
}
