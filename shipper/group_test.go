package shipper

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/capstan-agent/capstan/spool"
	"github.com/capstan-agent/capstan/spool/spooltest"
)

func TestGroupStartAndResume(t *testing.T) {
	dir := t.TempDir()
	s := spooltest.Open(t, dir, spool.Options{}, map[string]int{"app": 2})
	st := spooltest.Stream(t, s, "app")
	spooltest.AppendNumbered(t, st.Partition(0), 0, "a", 0, 10, 5)
	spooltest.AppendNumbered(t, st.Partition(1), 0, "b", 0, 4, 4)

	oldest, err := NewGroup("out-old", s.Checkpoints(), []*spool.Stream{st}, StartOldest, nil)
	if err != nil {
		t.Fatal(err)
	}
	newest, err := NewGroup("out-new", s.Checkpoints(), []*spool.Stream{st}, StartNewest, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		g    *Group
		want []uint64
	}{{oldest, []uint64{0, 0}}, {newest, []uint64{10, 4}}} {
		for i, c := range tc.g.Cursors() {
			if c.Sent() != tc.want[i] || c.Acked() != tc.want[i] {
				t.Errorf("%s %v: at %d/%d, want %d", tc.g.Name(), c.Key(), c.Sent(), c.Acked(), tc.want[i])
			}
		}
	}

	// Read everything of partition 0, acknowledge only the first batch.
	ctx := context.Background()
	c := oldest.Cursors()[0]
	rg, err := c.Next(ctx, 1<<20)
	if err != nil || rg.First != 0 || rg.Next != 10 {
		t.Fatalf("range %+v, %v", rg, err)
	}
	c.Ack(5)
	c.Ack(3) // acks never move back
	if err := oldest.Commit(); err != nil {
		t.Fatal(err)
	}
	got, _ := s.Checkpoints().Load("out-old")
	if got[spool.Key{Stream: "app", Partition: 0}] != 5 || got[spool.Key{Stream: "app", Partition: 1}] != 0 {
		t.Fatalf("checkpoint %v", got)
	}
	// newest committed its start offsets at once: a restart keeps them.
	got, _ = s.Checkpoints().Load("out-new")
	if got[spool.Key{Stream: "app", Partition: 0}] != 10 {
		t.Fatalf("newest checkpoint %v", got)
	}

	// Rewind sends the unacknowledged batch again.
	c.Rewind()
	if rg, err = c.Next(ctx, 1<<20); err != nil || rg.First != 5 {
		t.Fatalf("after rewind %+v, %v", rg, err)
	}

	// A new group of the same name resumes at the commit, not at what was sent.
	again, err := NewGroup("out-old", s.Checkpoints(), []*spool.Stream{st}, StartNewest, nil)
	if err != nil {
		t.Fatal(err)
	}
	if a := again.Cursors()[0].Sent(); a != 5 {
		t.Fatalf("resumed at %d, want 5", a)
	}
}

func TestCursorWaitsForData(t *testing.T) {
	s := spooltest.Open(t, t.TempDir(), spool.Options{}, map[string]int{"app": 1})
	st := spooltest.Stream(t, s, "app")
	g, err := NewGroup("out", s.Checkpoints(), []*spool.Stream{st}, StartOldest, nil)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan spool.Range)
	go func() {
		rg, _ := g.Cursors()[0].Next(context.Background(), 1<<20)
		done <- rg
	}()
	spooltest.AppendNumbered(t, st.Partition(0), 0, "a", 0, 3, 3)
	if rg := <-done; rg.Next != 3 {
		t.Fatalf("range %+v", rg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := g.Cursors()[0].Next(ctx, 1<<20); err != context.Canceled {
		t.Fatalf("cancelled Next: %v", err)
	}
}

func TestGroupRunCommitsOnStop(t *testing.T) {
	s := spooltest.Open(t, t.TempDir(), spool.Options{}, map[string]int{"app": 1})
	st := spooltest.Stream(t, s, "app")
	spooltest.AppendNumbered(t, st.Partition(0), 0, "a", 0, 3, 3)
	g, err := NewGroup("out", s.Checkpoints(), []*spool.Stream{st}, StartOldest, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- g.Run(ctx) }()
	g.Cursors()[0].Ack(3)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got, _ := s.Checkpoints().Load("out")
	if got[spool.Key{Stream: "app"}] != 3 {
		t.Fatalf("checkpoint %v", got)
	}
}

func TestStartAtValidate(t *testing.T) {
	for _, s := range []StartAt{"", StartOldest, StartNewest} {
		if err := s.Validate(); err != nil {
			t.Errorf("%q: %v", s, err)
		}
	}
	if err := StartAt("beginning").Validate(); err == nil {
		t.Error("beginning accepted")
	}
}

// A stored checkpoint past the end of a partition (left by a bug, or by a
// power loss that took the data behind it) is logged, and the output resumes
// at the end: every record appended later is read, none skipped.
func TestGroupStartBeyondEndResumesAtTheEnd(t *testing.T) {
	dir := t.TempDir()
	s := spooltest.Open(t, dir, spool.Options{}, map[string]int{"app": 1})
	st := spooltest.Stream(t, s, "app")
	spooltest.AppendNumbered(t, st.Partition(0), 0, "a", 0, 30, 10)
	if err := os.WriteFile(filepath.Join(dir, "checkpoints", "out"), []byte(`{"version":1,"offsets":{"app/0":90002}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zap.ErrorLevel)
	g, err := NewGroup("out", s.Checkpoints(), []*spool.Stream{st}, StartOldest, zap.New(core))
	if err != nil {
		t.Fatal(err)
	}
	c := g.Cursors()[0]
	if c.Sent() != 30 || c.Acked() != 30 {
		t.Fatalf("cursor at %d/%d, want the end 30", c.Sent(), c.Acked())
	}
	got, _ := s.Checkpoints().Load("out")
	if got[c.Key()] != 30 {
		t.Fatalf("checkpoint %v, want the end committed", got)
	}
	entries := logs.FilterMessageSnippet("beyond the end").All()
	if len(entries) != 1 {
		t.Fatalf("log: %v", logs.All())
	}
	fields := entries[0].ContextMap()
	if fields["output"] != "out" || fields["partition"] != "app/0" || fields["checkpoint"] != uint64(90002) || fields["next_offset"] != uint64(30) {
		t.Errorf("log fields %v", fields)
	}

	spooltest.AppendNumbered(t, st.Partition(0), 0, "a", 30, 20, 5)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	next := uint64(30)
	for next < 50 {
		rg, err := c.Next(ctx, 1<<20)
		if err != nil {
			t.Fatalf("waiting for records 30 to 49, at %d: %v", next, err)
		}
		if rg.First != next {
			t.Fatalf("range starts at %d, want %d", rg.First, next)
		}
		next = rg.Next
	}
	c.Ack(next)
	if err := g.Commit(); err != nil {
		t.Fatal(err)
	}
}

// A group whose last commit a power loss tore resumes at the commit before
// it, with a warning, rather than from the oldest offsets.
func TestGroupResumesAtThePreviousCommit(t *testing.T) {
	dir := t.TempDir()
	s := spooltest.Open(t, dir, spool.Options{}, map[string]int{"app": 1})
	st := spooltest.Stream(t, s, "app")
	spooltest.AppendNumbered(t, st.Partition(0), 0, "a", 0, 20, 5)
	ck := s.Checkpoints()
	if _, err := ck.Register("out"); err != nil {
		t.Fatal(err)
	}
	key := spool.Key{Stream: "app", Partition: 0}
	for _, off := range []uint64{5, 15} {
		if err := ck.CommitNoSync("out", map[spool.Key]uint64{key: off}); err != nil {
			t.Fatal(err)
		}
	}
	ck.Unregister("out")
	path := filepath.Join(dir, "checkpoints", "out")
	b, _ := os.ReadFile(path)
	os.WriteFile(path, []byte(strings.Replace(string(b), `:15`, `:19`, 1)), 0o644) // torn: the CRC no longer matches
	core, logs := observer.New(zap.WarnLevel)
	g, err := NewGroup("out", ck, []*spool.Stream{st}, StartOldest, zap.New(core))
	if err != nil {
		t.Fatal(err)
	}
	if a := g.Cursors()[0].Sent(); a != 5 {
		t.Fatalf("resumed at %d, want 5 (the commit before the torn one)", a)
	}
	if logs.FilterMessage("checkpoint damaged; resuming at the commit before it").Len() != 1 {
		t.Errorf("no warning: %v", logs.All())
	}
}
