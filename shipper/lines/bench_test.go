package lines

import (
	"bytes"
	"context"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/capstan-agent/capstan/shipper/delivery"
	"github.com/capstan-agent/capstan/spool"
	"github.com/capstan-agent/capstan/spool/batch"
)

func BenchmarkEncode(b *testing.B) {
	recs := make([]string, 1000)
	for i := range recs {
		recs[i] = string(bytes.Repeat([]byte("x"), 200))
	}
	bt := mkBatch(0, []batch.Attr{batch.StringAttr("host", "h")}, recs...)
	for _, f := range []Format{Raw, NDJSON} {
		b.Run(string(f), func(b *testing.B) {
			e := encoder{format: f}
			var req delivery.Request
			b.ReportAllocs()
			b.SetBytes(int64(len(bt)))
			for i := 0; i < b.N; i++ {
				req.Body = req.Body[:0]
				encodeAll(b, e, bt, 0, &req)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*1000), "ns/line")
		})
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkTCPOneHop measures spool → tcp output (raw lines) → a counting
// receiver, for 200-byte lines: lines per second and CPU per line. The
// receiver runs in this process, so its CPU (one read per 1 MiB and a byte
// count) is included: the figure is an upper bound for the output.
//
//	go test -run '^$' -bench TCPOneHop -benchtime 5x ./shipper/lines
func BenchmarkTCPOneHop(b *testing.B) {
	const lines = 2_000_000
	s, err := spool.Open(b.TempDir(), spool.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	st, _ := s.Stream("app", spool.StreamOptions{Partitions: 2})
	body := bytes.Repeat([]byte("y"), 199) // + newline = 200 bytes a line
	var bld batch.Builder
	for p := 0; p < 2; p++ {
		for n := 0; n < lines/2; n += 1000 {
			bld.Reset(0, nil)
			for i := 0; i < 1000; i++ {
				bld.Add(int64(i), body)
			}
			if _, err := st.Partition(p).Append(context.Background(), bld.Bytes()); err != nil {
				b.Fatal(err)
			}
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	received := make(chan int64, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				buf := make([]byte, 1<<20)
				var n int64
				for {
					k, err := c.Read(buf)
					n += int64(k)
					if n >= lines*200 {
						received <- n
						n = 0
					}
					if err == io.EOF || err != nil {
						c.Close()
						return
					}
				}
			}()
		}
	}()
	var elapsed, cpu time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		name := "bench" + string(rune('a'+i%26)) + string(rune('a'+i/26))
		o, err := NewTCP(settings(name), defaults(func(c *TCPConfig) { c.Address = ln.Addr().String() }))
		if err != nil {
			b.Fatal(err)
		}
		h := host(s, name, st)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		start, cpu0 := time.Now(), cpuTime()
		go func() { done <- o.Run(ctx, h) }()
		select {
		case <-received:
		case <-time.After(time.Minute):
			b.Fatalf("waited a minute for the receiver to get %d lines", lines)
		}
		elapsed += time.Since(start)
		cpu += cpuTime() - cpu0
		cancel()
		<-done
	}
	b.StopTimer()
	total := float64(lines) * float64(b.N)
	b.ReportMetric(total/elapsed.Seconds(), "lines/s")
	b.ReportMetric(float64(cpu.Nanoseconds())/total, "cpu-ns/line")
	b.ReportMetric(0, "ns/op")
}
