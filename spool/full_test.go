package spool

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/capstan-agent/capstan/spool/batch"
)

// sizedBatch builds a batch of one record whose whole size is about size.
func sizedBatch(size int, tag string) []byte {
	var b batch.Builder
	b.Reset(0, []batch.Attr{batch.StringAttr("src", tag)})
	b.Add(1, bytes.Repeat([]byte{'x'}, max(size-batch.HeaderSize-20, 1)))
	return bytes.Clone(b.Bytes())
}

// appendUntilBlocked appends size-byte batches to p until one blocks, and
// returns the channel that the blocked append reports to.
func appendUntilBlocked(t *testing.T, p *Partition, size int) <-chan error {
	t.Helper()
	for i := 0; i < 10000; i++ {
		done := make(chan error, 1)
		go func() {
			_, err := p.Append(context.Background(), sizedBatch(size, "full"))
			done <- err
		}()
		deadline := time.After(10 * time.Second)
		for {
			if p.Stats().BlockedAppends > 0 {
				return done
			}
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("append %d: %v", i, err)
				}
			case <-deadline:
				t.Fatalf("append %d neither finished nor blocked", i)
			case <-time.After(time.Millisecond):
				continue
			}
			break
		}
	}
	t.Fatal("the partition never filled up")
	return nil
}

// diskBytes sums the files of each partition directory of a stream: .log
// files apart, everything (index, snapshots) in all.
func diskBytes(t *testing.T, dir string) (logs map[string]int64, all int64, segments int) {
	t.Helper()
	logs = map[string]int64{}
	err := filepath.Walk(dir, func(path string, fi os.FileInfo, err error) error {
		if errors.Is(err, os.ErrNotExist) {
			return nil // a snapshot's .tmp renamed by the background writer meanwhile
		}
		if err != nil || fi.IsDir() {
			return err
		}
		all += fi.Size()
		if strings.HasSuffix(path, logSuffix) {
			logs[filepath.Dir(path)] += fi.Size()
			segments++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return logs, all, segments
}

// With an output that never commits, a stream's segments never hold more
// than max_bytes, whatever the spool's segment size; index and snapshot
// files add what docs/architecture.md says. The partition says it is
// blocked, once, and says when it is no longer.
func TestBlockedStreamStaysWithinMaxBytes(t *testing.T) {
	for _, tc := range []struct {
		partitions int
		batch      int
	}{{1, 100 << 10}, {1, 300 << 10}, {2, 64 << 10}, {4, 200 << 10}} {
		t.Run(fmt.Sprintf("%dx%dKiB", tc.partitions, tc.batch>>10), func(t *testing.T) {
			const maxBytes = 1 << 20
			dir := t.TempDir()
			core, logs := observer.New(zap.InfoLevel)
			s := openTest(t, dir, Options{Logger: zap.New(core)}) // 64 MiB segments
			st := mustStream(t, s, "logs", StreamOptions{Partitions: tc.partitions, MaxBytes: maxBytes})
			s.Checkpoints().Register("down") // an output that never commits
			var blocked []<-chan error
			for _, p := range st.Partitions() {
				blocked = append(blocked, appendUntilBlocked(t, p, tc.batch))
			}

			budget := int64(maxBytes / tc.partitions)
			perLog, all, segments := diskBytes(t, filepath.Join(dir, "spool", "logs"))
			for pdir, n := range perLog {
				if n > budget {
					t.Errorf("%s holds %d segment bytes, over its share %d of max_bytes", pdir, n, budget)
				}
			}
			// Documented: 8 bytes of index per index_interval of segment, and a
			// producer snapshot (24 bytes with no producers) per segment.
			if bound := int64(maxBytes) + maxBytes/(64<<10)*8 + int64(segments)*(8+24); all > bound {
				t.Errorf("stream holds %d bytes on disk, over the documented bound %d", all, bound)
			}

			p := st.Partition(0)
			ps := p.Stats()
			if !ps.Blocked || ps.BlockedSince.IsZero() || ps.BlockedAppends != 1 || ps.BlockedBytes != int64(len(sizedBatch(tc.batch, "full"))) || ps.BudgetBytes != budget {
				t.Fatalf("stats of a blocked partition: %+v", ps)
			}
			if ps.SegmentBytes != budget/4 {
				t.Errorf("segments roll at %d, want a quarter of the share %d", ps.SegmentBytes, budget)
			}
			if n := logs.FilterMessageSnippet("spool full").Len(); n != tc.partitions {
				t.Errorf("%d 'spool full' warnings for %d blocked partitions", n, tc.partitions)
			}

			// Commit everything: the waiting appends go through, and after a
			// quiet second each partition says it is no longer full, once.
			offsets := map[Key]uint64{}
			for _, p := range st.Partitions() {
				offsets[Key{"logs", p.ID()}] = p.NextOffset()
			}
			if err := s.Checkpoints().Commit("down", offsets); err != nil {
				t.Fatal(err)
			}
			for i, done := range blocked {
				if err := <-done; err != nil {
					t.Fatalf("partition %d: blocked append after commit: %v", i, err)
				}
			}
			later := time.Now().Add(2 * blockSettle)
			for _, p := range st.Partitions() {
				p.maintain(later)
				p.maintain(later) // a second look must not log again
			}
			ends := logs.FilterMessageSnippet("no longer full").All()
			if len(ends) != tc.partitions {
				t.Fatalf("%d 'no longer full' lines for %d partitions", len(ends), tc.partitions)
			}
			f := ends[0].ContextMap()
			if f["appends_waited"] != uint64(1) || f["blocked_for"] == nil || f["bytes_waited"] != ps.BlockedBytes {
				t.Errorf("end of episode fields %v", f)
			}
			if ps := p.Stats(); ps.Blocked || !ps.BlockedSince.IsZero() || ps.BlockedSeconds <= 0 || ps.BlockedEpisodes != 1 || ps.BlockedBytes != 0 {
				t.Errorf("stats after the episode: %+v", ps)
			}
		})
	}
}

// A partition held only in its active segment rolls it before an append
// that does not fit, so that it blocks (and later frees exactly that
// segment) instead of growing past its share.
func TestAppendThatDoesNotFitRollsFirst(t *testing.T) {
	s := openTest(t, t.TempDir(), Options{})
	p := mustStream(t, s, "logs", StreamOptions{MaxBytes: 64 << 10}).Partition(0) // 16 KiB segments
	ck := s.Checkpoints()
	ck.Register("out")
	for range 3 {
		mustAppend(t, p, sizedBatch(5<<10, "small"))
	}
	if p.Stats().Segments != 1 {
		t.Fatalf("%d segments before the big append", p.Stats().Segments)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := p.Append(ctx, sizedBatch(60<<10, "big")); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("an append that does not fit beside an uncommitted segment: %v", err)
	}
	if st := p.Stats(); st.Segments != 2 || st.Bytes > 64<<10 || st.NextOffset != 3 {
		t.Fatalf("after the refused append: %+v", st)
	}
	done := make(chan error, 1)
	go func() {
		_, err := p.Append(context.Background(), sizedBatch(60<<10, "big"))
		done <- err
	}()
	waitBlocked(t, p, done)
	if err := ck.Commit("out", map[Key]uint64{{"logs", 0}: 3}); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if st := p.Stats(); st.Bytes > 64<<10 || st.OldestOffset != 3 || st.NextOffset != 4 {
		t.Fatalf("after the commit: %+v", st)
	}
}

// An append larger than the whole share can never fit: it waits until the
// partition is empty and is then written alone, and says so.
func TestAppendLargerThanTheShare(t *testing.T) {
	core, logs := observer.New(zap.WarnLevel)
	s := openTest(t, t.TempDir(), Options{Logger: zap.New(core)})
	p := mustStream(t, s, "logs", StreamOptions{MaxBytes: 64 << 10}).Partition(0)
	s.Checkpoints().Register("out")
	mustAppend(t, p, sizedBatch(1<<10, "small"))
	done := make(chan error, 1)
	go func() {
		_, err := p.Append(context.Background(), sizedBatch(100<<10, "huge"))
		done <- err
	}()
	waitBlocked(t, p, done)
	if err := s.Checkpoints().Commit("out", map[Key]uint64{{"logs", 0}: 1}); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if st := p.Stats(); st.OldestOffset != 1 || st.NextOffset != 2 || st.Bytes > 101<<10 {
		t.Fatalf("after the huge append: %+v", st)
	}
	if logs.FilterMessageSnippet("written alone").Len() != 1 {
		t.Fatalf("log: %v", logs.All())
	}
}
