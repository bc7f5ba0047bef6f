package socket

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/capstan-agent/capstan/spool"
)

// TestHostileInput: garbage, a 10 MiB line and invalid UTF-8 on some
// connections leave the others served, and nothing but the cut is lost.
func TestHostileInput(t *testing.T) {
	h := start(t, Config{Addresses: []string{"tcp://127.0.0.1:0"}, Format: "syslog", MaxMessageBytes: 4096}, 2)
	addr := h.addr(0)
	var wg sync.WaitGroup
	wg.Go(func() { // binary garbage
		c := dial(t, "tcp", addr)
		junk := make([]byte, 1<<20)
		rand.Read(junk)
		c.Write(junk)
		c.Close()
	})
	wg.Go(func() { // 10 MiB without a newline, then a good line
		c := dial(t, "tcp", addr)
		c.Write(bytes.Repeat([]byte("x"), 10<<20))
		c.Write([]byte("\n<13>1 - h app - - - after the long one\n"))
		c.Close()
	})
	wg.Go(func() { // invalid UTF-8 and NULs in an otherwise good message
		c := dial(t, "tcp", addr)
		c.Write([]byte("<13>Nov 28 00:32:15 h app: \xc3\x28\x00\xff bad utf8\n"))
		c.Close()
	})
	wg.Wait()
	sendLines(t, "tcp", addr, 2, 1000) // and well-behaved clients still get through
	waitFor(t, "all connections done", func() bool {
		s := h.in.Stats()
		return s.ConnectionsAccepted.Load() == 5 && s.Connections.Load() == 0
	})
	h.stop()
	var good []rec
	var long, after, utf8 int
	for _, r := range h.records() {
		switch {
		case strings.HasPrefix(r.body, "client="):
			good = append(good, r)
		case r.body == strings.Repeat("x", 4096):
			long++
			if r.attrs["truncated"] != "true" || r.attrs["syslog_error"] != "bad PRI" {
				t.Fatalf("long line attrs %v", r.attrs)
			}
		case r.body == "after the long one":
			after++
		case r.body == "\xc3\x28\x00\xff bad utf8":
			utf8++
		default:
			if len(r.body) > 4096 {
				t.Fatalf("record of %d bytes", len(r.body))
			}
		}
	}
	checkExactlyOnce(t, good, 2, 1000)
	if long != 1 || after != 1 || utf8 != 1 {
		t.Fatalf("long %d after %d utf8 %d", long, after, utf8)
	}
	if h.in.Stats().Truncated.Load() < 1 {
		t.Fatal("truncation not counted")
	}
}

// TestHalfTLSHandshake: a client that stops mid-handshake is closed after
// handshake_timeout and holds nobody else up.
func TestHalfTLSHandshake(t *testing.T) {
	p := newPKI(t)
	p.issue("server", "s", 10, 0)
	h := start(t, Config{Addresses: []string{"tcp://127.0.0.1:0"}, TLS: &TLSConfig{
		CertFile: p.path("server.crt"), KeyFile: p.path("server.key"), HandshakeTimeout: 200e6,
	}}, 1)
	stuck := dial(t, "tcp", h.addr(0))
	// The first bytes of a ClientHello record, then silence.
	stuck.Write([]byte{0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03})
	garbage := dial(t, "tcp", h.addr(0))
	garbage.Write([]byte("this is not tls\n"))
	// Meanwhile a real client is served.
	c, err := tlsDial(h.addr(0), p)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(c, "real client")
	c.Close()
	// The stuck one is closed by the server.
	if _, err := stuck.Read(make([]byte, 1)); err == nil {
		t.Fatal("half handshake not closed")
	}
	waitFor(t, "handshake errors", func() bool { return h.in.Stats().TLSHandshakeErrors.Load() == 2 })
	waitFor(t, "real line", func() bool { return h.in.Stats().Messages.Load() == 1 })
}

// TestManyIdleConnections: thousands of idle connections cost no read
// buffers (memory stays bounded) and the input keeps serving. The client
// ends live in a child process, so that each side has the whole fd limit and
// only the server's memory is measured. CI opens 2,000; CAPSTAN_SOAK=1 opens
// the issue's 10,000 (needs ulimit -n above 10,100).
func TestManyIdleConnections(t *testing.T) {
	n := 2000
	if os.Getenv("CAPSTAN_SOAK") == "1" {
		n = 10000
	}
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil || rl.Cur < uint64(n+100) {
		t.Fatalf("ulimit -n %d is too low for %d connections (%v)", rl.Cur, n, err)
	}
	h := start(t, Config{Addresses: []string{"tcp://127.0.0.1:0"}, MaxConnections: n + 10}, 2)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)

	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), "CAPSTAN_IDLE_CLIENTS="+h.addr(0)+","+strconv.Itoa(n))
	stdin, err := child.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	child.Stderr = os.Stderr
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		stdin.Close() // the child closes its connections and exits
		if err := child.Wait(); err != nil {
			t.Errorf("client process: %v", err)
		}
	}()
	waitFor(t, "all connected", func() bool { return h.in.Stats().Connections.Load() == int64(n) })
	waitFor(t, "hellos", func() bool { return h.in.Stats().Messages.Load() == uint64(n/2) })
	runtime.GC()
	runtime.ReadMemStats(&after)
	grew := int64(after.HeapInuse+after.StackInuse) - int64(before.HeapInuse+before.StackInuse)
	perConn := grew / int64(n)
	t.Logf("%d idle connections: %d KiB in all, %d bytes each", n, grew>>10, perConn)
	// A read buffer each would be 64 KiB a connection.
	if perConn > idleConnBudget {
		t.Fatalf("%d bytes per idle connection: read buffers are held", perConn)
	}
	sendLines(t, "tcp", h.addr(0), 1, 100)
	waitFor(t, "new client served", func() bool { return h.in.Stats().Messages.Load() == uint64(n/2+100) })
}

// idleClients is the child process of TestManyIdleConnections: it opens n
// connections to addr (half of them send a line), then holds them until its
// stdin closes.
func idleClients(spec string) error {
	addr, ns, _ := strings.Cut(spec, ",")
	n, err := strconv.Atoi(ns)
	if err != nil {
		return err
	}
	conns := make([]net.Conn, 0, n)
	for i := range n {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return fmt.Errorf("connection %d: %w", i, err)
		}
		if i%2 == 0 {
			fmt.Fprintln(c, "hello")
		}
		conns = append(conns, c)
	}
	io.Copy(io.Discard, os.Stdin)
	for _, c := range conns {
		c.Close()
	}
	return nil
}

func TestMain(m *testing.M) {
	if spec := os.Getenv("CAPSTAN_IDLE_CLIENTS"); spec != "" {
		if err := idleClients(spec); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	// Every goroutine an input starts ends with Run.
	goleak.VerifyTestMain(m)
}

// blockingAppender holds every Append until released.
type blockingAppender struct {
	next    Appender
	entered chan struct{}
	release chan struct{}
	once    sync.Once
}

func (b *blockingAppender) Append(ctx context.Context, p []byte) (spool.AppendResult, error) {
	b.once.Do(func() { close(b.entered) })
	select {
	case <-b.release:
	case <-ctx.Done():
		return spool.AppendResult{}, ctx.Err()
	}
	return b.next.Append(ctx, p)
}

func blockedHarness(t *testing.T, cfg Config) (*harness, *blockingAppender) {
	sp, err := spool.Open(t.TempDir(), spool.Options{Fsync: spool.FsyncNever})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sp.Close() })
	st, err := sp.Stream("logs", spool.StreamOptions{Partitions: 1})
	if err != nil {
		t.Fatal(err)
	}
	ba := &blockingAppender{next: st.Partition(0), entered: make(chan struct{}), release: make(chan struct{})}
	return startWith(t, cfg, []Appender{ba}, sp, st), ba
}

// TestBackpressureStream: while the spool blocks, a TCP connection is not
// read past two batches, and once it unblocks everything arrives.
func TestBackpressureStream(t *testing.T) {
	h, ba := blockedHarness(t, Config{Addresses: []string{"tcp://127.0.0.1:0"}, BatchBytes: 64 << 10, ReceiveBufferBytes: 64 << 10})
	const lines = 150_000 // ~3 MiB: more than two batches, a read buffer and the socket buffers
	done := make(chan struct{})
	go func() {
		defer close(done)
		sendLines(t, "tcp", h.addr(0), 1, lines)
	}()
	<-ba.entered
	b := h.in.batchers[0]
	waitFor(t, "both batches taken", func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		return b.cur == nil && len(b.free) == 0
	})
	select {
	case <-done:
		t.Fatal("the sender finished while the spool was blocked: nothing held it back")
	default:
	}
	if read := h.in.Stats().Bytes.Load(); read > 3*64<<10+uint64(h.in.bufSize) {
		t.Fatalf("read %d bytes while blocked", read)
	}
	close(ba.release)
	<-done
	waitFor(t, "all lines", func() bool { return h.in.Stats().Messages.Load() == lines })
	h.stop()
	checkExactlyOnce(t, h.records(), 1, lines)
}

// TestBackpressureDatagram: while the spool blocks, datagrams are dropped
// and counted, not queued.
func TestBackpressureDatagram(t *testing.T) {
	h, ba := blockedHarness(t, Config{Addresses: []string{"udp://127.0.0.1:0"}, BatchBytes: 1024})
	c := dial(t, "udp", h.addr(0))
	msg := bytes.Repeat([]byte("d"), 200)
	for h.in.Stats().DatagramsDropped.Load() == 0 {
		c.Write(msg)
	}
	<-ba.entered
	close(ba.release)
	h.stop()
	s := h.in.Stats()
	if got := uint64(len(h.records())); got != s.Messages.Load() || got == 0 {
		t.Fatalf("%d records in the spool, %d taken", got, s.Messages.Load())
	}
}

func tlsDial(addr string, p *pki) (net.Conn, error) {
	return tlsDialConfig(addr, p)
}

// TestShutdownWithFullSpool: when the spool never takes a batch, Run still
// returns once flush_timeout has passed, and counts what it lost.
func TestShutdownWithFullSpool(t *testing.T) {
	h, ba := blockedHarness(t, Config{Addresses: []string{"tcp://127.0.0.1:0", "udp://127.0.0.1:0"},
		BatchBytes: 4096, FlushTimeout: 50 * time.Millisecond})
	c := dial(t, "tcp", h.addr(0))
	for s := range 1000 {
		fmt.Fprintf(c, "%s\n", line(0, s))
	}
	<-ba.entered
	waitFor(t, "the connection to stop", func() bool {
		b := h.in.batchers[0]
		b.mu.Lock()
		defer b.mu.Unlock()
		return b.cur == nil && len(b.free) == 0
	})
	h.stop() // returns although the spool never unblocks
	s := h.in.Stats()
	if s.AppendErrors.Load() == 0 || s.LostRecords.Load() == 0 || s.LostRecords.Load() < s.Messages.Load() {
		t.Fatalf("append errors %d, lost %d, messages %d", s.AppendErrors.Load(), s.LostRecords.Load(), s.Messages.Load())
	}
	if n := h.count(); n != 0 {
		t.Fatalf("%d records in the spool", n)
	}
}
