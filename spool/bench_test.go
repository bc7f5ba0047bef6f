package spool

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/capstan-agent/capstan/spool/batch"
	"golang.org/x/sys/unix"
)

// benchBatch is one batch of 200-byte records, about size bytes long.
func benchBatch(size int) []byte {
	b, _ := benchBatchN(size)
	return b
}

func benchBatchN(size int) ([]byte, int) {
	var b batch.Builder
	b.Reset(0, []batch.Attr{batch.StringAttr("file", "/var/log/app.log")})
	line := bytes.Repeat([]byte("x"), 200)
	for b.Len() < size-256 {
		b.Add(time.Now().UnixNano(), line)
	}
	return bytes.Clone(b.Bytes()), b.Count()
}

// BenchmarkAppendVsWrite appends 256 KiB batches of 200-byte records to a
// partition and, interleaved with it, writes the same bytes with plain
// write(2) calls to a file in the same directory, so both see the same disk
// and the same noise. It reports both throughputs and their ratio.
func BenchmarkAppendVsWrite(b *testing.B) {
	dir := b.TempDir()
	s, err := Open(dir, Options{Fsync: FsyncNever})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	st, _ := s.Stream("bench", StreamOptions{})
	p := st.Partition(0)
	buf, records := benchBatchN(256 << 10)
	// The baseline writes the same bytes to files that it replaces every
	// 64 MiB, as the spool rolls segments.
	var plain *os.File
	var written int64
	newPlain := func() {
		if plain != nil {
			plain.Close()
			os.Remove(plain.Name())
		}
		var err error
		if plain, err = os.Create(filepath.Join(dir, fmt.Sprintf("plain-%d.out", time.Now().UnixNano()))); err != nil {
			b.Fatal(err)
		}
		written = 0
	}
	newPlain()
	defer func() { plain.Close() }()
	var tSpool, tPlain time.Duration
	ctx := context.Background()
	appendOne := func() {
		t0 := time.Now()
		if _, err := p.Append(ctx, buf); err != nil {
			b.Fatal(err)
		}
		tSpool += time.Since(t0)
	}
	writeOne := func() {
		t0 := time.Now()
		if _, err := plain.Write(buf); err != nil {
			b.Fatal(err)
		}
		tPlain += time.Since(t0)
		if written += int64(len(buf)); written >= 64<<20 {
			newPlain()
		}
	}
	b.SetBytes(int64(len(buf)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// Alternate who goes first, so that neither always meets the
		// writeback the other caused.
		if i%2 == 0 {
			appendOne()
			writeOne()
		} else {
			writeOne()
			appendOne()
		}
	}
	b.StopTimer()
	n := float64(b.N) * float64(len(buf))
	b.ReportMetric(n/tSpool.Seconds()/1e6, "spool-MB/s")
	b.ReportMetric(n/tPlain.Seconds()/1e6, "write-MB/s")
	b.ReportMetric(tSpool.Seconds()/tPlain.Seconds(), "spool/write")
	b.ReportMetric(float64(b.N)*float64(records)/tSpool.Seconds()/1e6, "Mrecords/s")
}

// BenchmarkAppendParallel appends from one goroutine per partition: the
// partitions must not contend on a shared lock.
func BenchmarkAppendParallel(b *testing.B) {
	s, err := Open(b.TempDir(), Options{Fsync: FsyncNever})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	st, _ := s.Stream("bench", StreamOptions{Partitions: 4})
	buf := benchBatch(64 << 10)
	b.SetBytes(int64(len(buf)))
	next := make(chan int, 64)
	for i := 0; i < 64; i++ {
		next <- i % 4
	}
	b.RunParallel(func(pb *testing.PB) {
		p := st.Partition(<-next)
		mine := bytes.Clone(buf)
		for pb.Next() {
			if _, err := p.Append(context.Background(), mine); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkReaderLookup measures turning a random offset into the first range:
// segment search, index lookup and a short header walk.
func BenchmarkReaderLookup(b *testing.B) {
	s, err := Open(b.TempDir(), Options{SegmentBytes: 8 << 20, Fsync: FsyncNever})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	st, _ := s.Stream("bench", StreamOptions{})
	p := st.Partition(0)
	buf := benchBatch(16 << 10)
	for p.Stats().Bytes < 256<<20 {
		if _, err := p.Append(context.Background(), buf); err != nil {
			b.Fatal(err)
		}
	}
	end := p.NextOffset()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := p.NewReader(rand.Uint64N(end))
		if _, err := r.Next(1); err != nil { // one batch: the lookup alone
			b.Fatal(err)
		}
	}
}

// BenchmarkRecovery opens a spool of 1 GiB in 64 MiB segments. Recovery is the
// same after a crash as after a clean close: the active segment is checked from
// its last index entry on. Set CAPSTAN_BENCH_RECOVERY_BYTES for other sizes.
func BenchmarkRecovery(b *testing.B) {
	total := int64(1 << 30)
	if v := os.Getenv("CAPSTAN_BENCH_RECOVERY_BYTES"); v != "" {
		fmt.Sscan(v, &total)
	}
	dir := b.TempDir()
	opts := Options{SegmentBytes: 64 << 20, Fsync: FsyncNever}
	s, err := Open(dir, opts)
	if err != nil {
		b.Fatal(err)
	}
	st, _ := s.Stream("bench", StreamOptions{})
	p := st.Partition(0)
	buf := benchBatch(256 << 10)
	for p.Stats().Bytes < total-32<<20 {
		if _, err := p.Append(context.Background(), buf); err != nil {
			b.Fatal(err)
		}
	}
	s.Close()
	for _, cold := range []bool{false, true} {
		name := "warm"
		if cold {
			name = "cold" // the spool's pages evicted first, as after a reboot
		}
		b.Run(name, func(b *testing.B) {
			var read int64
			for i := 0; i < b.N; i++ {
				if cold {
					b.StopTimer()
					evict(b, dir)
					b.StartTimer()
				}
				s, err := Open(dir, opts)
				if err != nil {
					b.Fatal(err)
				}
				st, _ := s.Stream("bench", StreamOptions{})
				read = st.Partition(0).Stats().RecoveryBytesRead
				s.Close()
			}
			b.ReportMetric(float64(read), "bytes-read/op")
		})
	}
}

// evict drops every file under dir from the page cache.
func evict(b *testing.B, dir string) {
	filepath.Walk(dir, func(path string, fi os.FileInfo, err error) error {
		if err != nil || !fi.Mode().IsRegular() {
			return nil
		}
		f, err := os.Open(path)
		if err != nil {
			return nil
		}
		defer f.Close()
		if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
			b.Fatal(err)
		}
		return nil
	})
}
