package socket

import (
	"bytes"
	"net"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/capstan-agent/capstan/component/componenttest"
)

// lines200 is n lines of 200 bytes, newline included.
func lines200(n int) []byte {
	l := append(bytes.Repeat([]byte("x"), 199), '\n')
	return bytes.Repeat(l, n)
}

// BenchmarkTCP measures 200-byte lines per second from loopback TCP
// connections into a real spool (page cache, fsync never).
func BenchmarkTCP(b *testing.B) {
	for _, conns := range []int{1, 16} {
		b.Run("conns="+strconv.Itoa(conns), func(b *testing.B) {
			h := start(b, Config{Addresses: []string{"tcp://127.0.0.1:0"}}, 2)
			const chunkLines = 5000
			chunk := lines200(chunkLines)
			per := (b.N + conns*chunkLines - 1) / (conns * chunkLines) // chunks per connection
			total := uint64(per * chunkLines * conns)
			b.SetBytes(200)
			b.ResetTimer()
			start, cpu0 := time.Now(), cpuTime()
			var wg sync.WaitGroup
			for range conns {
				wg.Go(func() {
					c, err := net.Dial("tcp", h.addr(0))
					if err != nil {
						b.Error(err)
						return
					}
					defer c.Close()
					for range per {
						if _, err := c.Write(chunk); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			for deadline := time.Now().Add(time.Minute); h.in.Stats().Messages.Load() < total; time.Sleep(time.Millisecond) {
				if time.Now().After(deadline) {
					b.Fatalf("waited a minute for the input to take %d lines; it took %d", total, h.in.Stats().Messages.Load())
				}
			}
			h.stop()
			el, cpu := time.Since(start), cpuTime()-cpu0
			b.StopTimer()
			if got := uint64(h.count()); got != total {
				b.Fatalf("%d records in the spool, %d sent", got, total)
			}
			b.ReportMetric(float64(total)/el.Seconds(), "lines/s")
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(total), "cpu-ns/line")
		})
	}
}

// BenchmarkUDP sends 200-byte datagrams as fast as the senders can and
// reports the share lost (in the kernel or dropped by the input).
func BenchmarkUDP(b *testing.B) {
	for _, senders := range []int{1, 4} {
		b.Run("senders="+strconv.Itoa(senders), func(b *testing.B) {
			h := start(b, Config{Addresses: []string{"udp://127.0.0.1:0"}, ReceiveBufferBytes: 4 << 20}, 2)
			msg := bytes.Repeat([]byte("u"), 200)
			per := (b.N + senders - 1) / senders
			total := per * senders
			b.SetBytes(200)
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			for range senders {
				wg.Go(func() {
					c, err := net.Dial("udp", h.addr(0))
					if err != nil {
						b.Error(err)
						return
					}
					defer c.Close()
					for range per {
						c.Write(msg)
					}
				})
			}
			wg.Wait()
			sent := time.Since(start)
			// Let the input catch up with what the kernel queued (what is
			// lost never comes: this waits for the count to hold still).
			componenttest.Quiesce(b, componenttest.Quiet[uint64]{
				What: "the datagrams the input took", Observe: h.in.Stats().Messages.Load, Settle: 50 * time.Millisecond,
			})
			b.StopTimer()
			h.stop()
			s := h.in.Stats()
			b.ReportMetric(float64(total)/sent.Seconds(), "sent/s")
			b.ReportMetric(100*(1-float64(s.Messages.Load())/float64(total)), "%lost")
			b.ReportMetric(float64(s.DatagramsDropped.Load()), "dropped_by_input")
		})
	}
}

// cpuTime is the process's user and system CPU time: senders included, as
// they share the process.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
