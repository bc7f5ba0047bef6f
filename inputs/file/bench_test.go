package file

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/capstan-agent/capstan/spool"
)

// BenchmarkTail tails one file of 200-byte lines into a fresh spool per
// iteration. The file is CAPSTAN_BENCH_FILE_MB MiB (default 128; the issue's
// figure is for 1024).
func BenchmarkTail(b *testing.B) {
	mb := 128
	if v, err := strconv.Atoi(os.Getenv("CAPSTAN_BENCH_FILE_MB")); err == nil && v > 0 {
		mb = v
	}
	logs := b.TempDir()
	path := filepath.Join(logs, "big.log")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	line := make([]byte, 200)
	for i := range line {
		line[i] = 'a' + byte(i%26)
	}
	line[199] = '\n'
	lines := mb << 20 / 200
	for i := 0; i < lines; i++ {
		copy(line, fmt.Sprintf("%012d ", i))
		w.Write(line)
	}
	w.Flush()
	f.Close()
	size := int64(lines) * 200

	b.ResetTimer()
	b.ReportAllocs()
	var ms0, ms1 runtime.MemStats
	var elapsed time.Duration
	var cpu time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		data := b.TempDir()
		sp, err := spool.Open(data, spool.Options{Fsync: spool.FsyncNever, SegmentBytes: 256 << 20})
		if err != nil {
			b.Fatal(err)
		}
		st, _ := sp.Stream("logs", spool.StreamOptions{})
		in, err := New(Config{Name: "bench", StartAt: "beginning", Include: []string{filepath.Join(logs, "*.log")}},
			SpoolTarget(sp, st, "bench"), nil)
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		runtime.GC()
		runtime.ReadMemStats(&ms0)
		cpu0 := processCPU()
		start := time.Now()
		b.StartTimer()
		go func() { done <- in.Run(ctx) }()
		for deadline := time.Now().Add(time.Minute); in.Stats().Bytes.Load() < uint64(size); time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				b.Fatalf("waited a minute for the input to read %d bytes; it read %d", size, in.Stats().Bytes.Load())
			}
		}
		b.StopTimer()
		elapsed += time.Since(start)
		cpu += processCPU() - cpu0
		runtime.ReadMemStats(&ms1)
		cancel()
		<-done
		sp.Close()
		if got := in.Stats().Records.Load(); got != uint64(lines) {
			b.Fatalf("%d records, want %d", got, lines)
		}
		b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/float64(lines), "allocs/line")
	}
	total := float64(lines) * float64(b.N)
	b.ReportMetric(total/elapsed.Seconds(), "lines/s")
	b.ReportMetric(float64(size)*float64(b.N)/elapsed.Seconds()/(1<<20), "MiB/s")
	b.ReportMetric(float64(cpu.Nanoseconds())/total, "cpu-ns/line")
}
