package delivery

import (
	"bytes"
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/capstan-agent/capstan/component/componenttest"
	"github.com/capstan-agent/capstan/spool"
	"github.com/capstan-agent/capstan/spool/batch"
	"github.com/capstan-agent/capstan/spool/spooltest"
)

type discard struct{}

func (discard) Send(context.Context, *Request) Result { return Delivered() }

// fill appends n records of 200 bytes (newline included once encoded) to
// each partition of st, in batches of 1000.
func fill(tb testing.TB, st *spool.Stream, n int) {
	body := bytes.Repeat([]byte("y"), 199)
	var b batch.Builder
	for _, p := range st.Partitions() {
		for i := 0; i < n; i += 1000 {
			b.Reset(0, []batch.Attr{batch.StringAttr("host.name", "h")})
			for j := i; j < min(i+1000, n); j++ {
				b.Add(int64(j), body)
			}
			if _, err := p.Append(context.Background(), b.Bytes()); err != nil {
				tb.Fatal(err)
			}
		}
	}
}

// deliverAll runs an engine over everything in sp's stream "app" into a
// discarding destination and returns the time and allocations it took.
func deliverAll(tb testing.TB, sp *spool.Spool, name string, o Options, total uint64) (time.Duration, uint64) {
	st, _ := sp.Stream("app", spool.StreamOptions{})
	h := componenttest.NewHost(sp, name)
	h.StreamsRead = []*spool.Stream{st}
	set := settings()
	set.ID.Name = name
	e := New(set, o, lineEncoder{}, discard{})
	ctx, cancel := context.WithCancel(context.Background())
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	start := time.Now()
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx, h) }()
	deadline := time.Now().Add(time.Minute)
	for e.Stats().Records.Load() < total {
		if time.Now().After(deadline) {
			tb.Fatalf("after a minute %d of %d records delivered", e.Stats().Records.Load(), total)
		}
		time.Sleep(100 * time.Microsecond)
	}
	elapsed := time.Since(start)
	runtime.ReadMemStats(&ms1)
	cancel()
	if err := <-done; err != nil {
		tb.Fatal(err)
	}
	return elapsed, ms1.Mallocs - ms0.Mallocs
}

// The hot path allocates nothing per record: what it allocates is per
// request (a checkpoint write) and per run.
func TestNoAllocationPerRecord(t *testing.T) {
	sp := spooltest.Open(t, t.TempDir(), spool.Options{}, map[string]int{"app": 2})
	st := spooltest.Stream(t, sp, "app")
	const n = 100_000
	fill(t, st, n)
	_, allocs := deliverAll(t, sp, "out", opts(nil), 2*n)
	if per := float64(allocs) / (2 * n); per > 0.05 {
		t.Fatalf("%.3f allocations per record (%d for %d records)", per, allocs, 2*n)
	}
}

// BenchmarkEngine is the engine's cost per record into a destination that
// discards: spool read, decode, the record view, a line encoder, requests
// of 1 MiB, commits. One op is one record.
//
//	go test -run '^$' -bench Engine -benchtime 2000000x ./shipper/delivery
func BenchmarkEngine(b *testing.B) {
	for _, c := range []struct {
		name string
		o    func(*Options)
	}{
		{"concurrency=1", nil},
		{"concurrency=4", func(o *Options) { o.Concurrency = 4 }},
	} {
		b.Run(c.name, func(b *testing.B) {
			sp := spooltest.Open(b, b.TempDir(), spool.Options{}, map[string]int{"app": 1})
			fill(b, spooltest.Stream(b, sp, "app"), b.N)
			b.ResetTimer()
			elapsed, allocs := deliverAll(b, sp, "bench", opts(c.o), uint64(b.N))
			b.ReportMetric(float64(elapsed.Nanoseconds())/float64(b.N), "ns/record")
			b.ReportMetric(float64(allocs)/float64(b.N), "allocs/record")
		})
	}
}
