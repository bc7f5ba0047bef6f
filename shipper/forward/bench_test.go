package forward

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	fwdin "github.com/capstan-agent/capstan/inputs/forward"
	"github.com/capstan-agent/capstan/spool"
	"github.com/capstan-agent/capstan/spool/protocol"
)

// discardForward is a forward receiver that reads and acknowledges DATA
// frames without storing them: the peer for measuring the sender alone.
func discardForward(b *testing.B) (addr string, stop func()) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReaderSize(c, 1<<20)
				if _, err := protocol.ReadClientHello(br); err != nil {
					return
				}
				c.Write(protocol.AppendServerHello(nil, &protocol.ServerHello{Version: protocol.Version, Accepted: true,
					MaxFrame: 64 << 20, Window: 8 << 20, Heartbeat: 5000}))
				r := protocol.NewReader(br, 64<<20)
				var out []byte
				for {
					f, err := r.ReadFrame()
					if err != nil {
						return
					}
					if f.Type == protocol.TypeData {
						out = protocol.AppendAck(out[:0], &protocol.Ack{Stream: f.Data.Stream, Partition: f.Data.Partition, Last: f.Data.Last})
						c.Write(out)
					} else if f.Type == protocol.TypeHeartbeat {
						c.Write(protocol.AppendHeartbeat(out[:0]))
					}
				}
			}()
		}
	}()
	return ln.Addr().String(), func() { ln.Close() }
}

// discardRaw reads connections to their end with a 1 MiB buffer.
func discardRaw(b *testing.B) (addr string, stop func()) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				io.CopyBuffer(io.Discard, c, make([]byte, 1<<20))
				c.Close()
			}()
		}
	}()
	return ln.Addr().String(), func() { ln.Close() }
}

// measure runs a child shipping the spool in dir and returns its own
// figures: wall time of the transfer and CPU time it spent.
func measure(b *testing.B, env ...string) (elapsed, cpu time.Duration, rssKiB int64) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		b.Fatalf("child: %v: %s", err, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	var e, c int64
	if _, err := fmt.Sscanf(lines[len(lines)-1], "%d %d %d", &e, &c, &rssKiB); err != nil {
		b.Fatalf("child said %q", out)
	}
	return time.Duration(e), time.Duration(c), rssKiB
}

// BenchmarkForwardPaths ships the same spool (2 partitions, 128 MiB of
// 200-byte records) over loopback three ways, each in a child process whose
// CPU time is its own: the forward output with sendfile, the forward output
// through buffers (the TLS path without TLS), and a bare sendfile of the
// same bytes to a discarding reader. It reports each path's throughput and
// sender CPU seconds per GiB, and the ratios the targets are stated in.
//
//	go test -run '^$' -bench ForwardPaths -benchtime 3x ./shipper/forward
func BenchmarkForwardPaths(b *testing.B) {
	dir := b.TempDir()
	s, err := spool.Open(dir, spool.Options{})
	if err != nil {
		b.Fatal(err)
	}
	st, _ := s.Stream("app", spool.StreamOptions{Partitions: 2})
	body := bytes.Repeat([]byte("x"), 200)
	var payload int64
	for p := 0; p < 2; p++ {
		for payload < int64(p+1)*64<<20 {
			res, err := st.Partition(p).Append(b.Context(), bigBatch(body, 1000))
			if err != nil {
				b.Fatal(err)
			}
			_ = res
			payload = st.Partition(0).Stats().Bytes + st.Partition(1).Stats().Bytes
		}
	}
	s.Close()
	fwd, stopF := discardForward(b)
	defer stopF()
	raw, stopR := discardRaw(b)
	defer stopR()
	gib := float64(payload) / (1 << 30)
	var tot [3]struct{ elapsed, cpu time.Duration }
	var maxRSS [3]int64
	frame := os.Getenv("CAPSTAN_FRAME_BYTES")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for m, env := range [][]string{
			{childEnv + "=ship", "CAPSTAN_ENDPOINT=" + fwd, fmt.Sprintf("CAPSTAN_OUTPUT=sf%d", i), "CAPSTAN_CPUPROFILE=" + os.Getenv("CAPSTAN_SENDFILE_PROFILE")},
			{childEnv + "=ship", "CAPSTAN_ENDPOINT=" + fwd, fmt.Sprintf("CAPSTAN_OUTPUT=buf%d", i), "CAPSTAN_BUFFERED=1"},
			{childEnv + "=bare", "CAPSTAN_ENDPOINT=" + raw},
		} {
			e, c, rss := measure(b, append(env, "CAPSTAN_DIR="+dir, "CAPSTAN_FRAME_BYTES="+frame)...)
			tot[m].elapsed += e
			tot[m].cpu += c
			maxRSS[m] = max(maxRSS[m], rss)
		}
	}
	b.StopTimer()
	mbps := func(m int) float64 { return float64(payload) * float64(b.N) / tot[m].elapsed.Seconds() / 1e6 }
	cpuPerGiB := func(m int) float64 { return tot[m].cpu.Seconds() / float64(b.N) / gib }
	b.ReportMetric(mbps(0), "sendfile-MB/s")
	b.ReportMetric(mbps(1), "buffered-MB/s")
	b.ReportMetric(mbps(2), "bare-MB/s")
	b.ReportMetric(cpuPerGiB(0), "sendfile-cpu-s/GiB")
	b.ReportMetric(cpuPerGiB(1), "buffered-cpu-s/GiB")
	b.ReportMetric(cpuPerGiB(2), "bare-cpu-s/GiB")
	b.ReportMetric(mbps(2)/mbps(0), "bare/sendfile-time")
	b.ReportMetric(cpuPerGiB(1)/cpuPerGiB(0), "buffered/sendfile-cpu")
	b.ReportMetric(float64(maxRSS[0])/1024, "sendfile-maxrss-MiB")
	b.ReportMetric(float64(maxRSS[1])/1024, "buffered-maxrss-MiB")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkForwardToCoreSpool measures the forward hop end to end in one
// process: 2 million 200-byte records in an edge spool (2 partitions),
// shipped by the forward output (sendfile) to a forward input that checks
// every batch and appends to a core spool. Reported: records per second
// until the core holds them all, and CPU per record for both sides together.
//
//	go test -run '^$' -bench ForwardToCoreSpool -benchtime 3x ./shipper/forward
func BenchmarkForwardToCoreSpool(b *testing.B) {
	const records = 2_000_000
	edgeSpool, err := spool.Open(b.TempDir(), spool.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer edgeSpool.Close()
	est, _ := edgeSpool.Stream("app", spool.StreamOptions{Partitions: 2})
	body := bytes.Repeat([]byte("z"), 200)
	for p := 0; p < 2; p++ {
		for n := 0; n < records/2; n += 1000 {
			if _, err := est.Partition(p).Append(b.Context(), bigBatch(body, 1000)); err != nil {
				b.Fatal(err)
			}
		}
	}
	var elapsed, cpu time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		coreSpool, err := spool.Open(b.TempDir(), spool.Options{})
		if err != nil {
			b.Fatal(err)
		}
		cst, _ := coreSpool.Stream("core", spool.StreamOptions{Partitions: 2})
		in, err := fwdin.New(fwdin.Config{Address: "127.0.0.1:0"}, cst, nil)
		if err != nil {
			b.Fatal(err)
		}
		out, err := New(Config{Name: fmt.Sprintf("e2e%d", i), Endpoints: []string{in.Addr().String()}}, edgeSpool, []*spool.Stream{est}, nil)
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		inDone, outDone := make(chan error), make(chan error)
		b.StartTimer()
		start, cpu0 := time.Now(), procCPU()
		go func() { inDone <- in.Run(ctx) }()
		go func() { outDone <- out.Run(ctx) }()
		for deadline := time.Now().Add(2 * time.Minute); cst.Partition(0).NextOffset()+cst.Partition(1).NextOffset() < records; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				b.Fatalf("waited 2m for the core to hold %d records; it holds %d", records, cst.Partition(0).NextOffset()+cst.Partition(1).NextOffset())
			}
		}
		elapsed += time.Since(start)
		cpu += procCPU() - cpu0
		b.StopTimer()
		cancel()
		<-outDone
		<-inDone
		coreSpool.Close()
		b.StartTimer()
	}
	total := float64(records) * float64(b.N)
	b.ReportMetric(total/elapsed.Seconds(), "records/s")
	b.ReportMetric(float64(cpu.Nanoseconds())/total, "cpu-ns/record")
	b.ReportMetric(0, "ns/op")
}

func procCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
