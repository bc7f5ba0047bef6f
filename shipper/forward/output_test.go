package forward

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/capstan-agent/capstan/component/componenttest"
	fwdin "github.com/capstan-agent/capstan/inputs/forward"
	"github.com/capstan-agent/capstan/spool"
	"github.com/capstan-agent/capstan/spool/protocol"
	"github.com/capstan-agent/capstan/spool/spooltest"
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(runChild())
	}
	goleak.VerifyTestMain(m)
}

// core is a receiving agent in this process: a spool and a forward input.
type core struct {
	spool  *spool.Spool
	stream *spool.Stream
	in     *fwdin.Input
	stop   func()
}

func startCore(t *testing.T, cfg fwdin.Config, partitions int) *core {
	t.Helper()
	s := spooltest.Open(t, t.TempDir(), spool.Options{}, map[string]int{"core": partitions})
	st := spooltest.Stream(t, s, "core")
	if cfg.Address == "" {
		cfg.Address = "127.0.0.1:0"
	}
	in, err := fwdin.New(cfg, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { in.Run(ctx); close(done) }()
	c := &core{spool: s, stream: st, in: in}
	c.stop = func() { cancel(); <-done }
	t.Cleanup(c.stop)
	return c
}

// bodies returns every record body the core holds, sorted.
func (c *core) bodies(t *testing.T) []string {
	var all []string
	for _, p := range c.stream.Partitions() {
		all = append(all, spooltest.Bodies(t, p)...)
	}
	sort.Strings(all)
	return all
}

// edge is a spool with stream "app" of partitions, filled with numbered
// records: partition p holds "p<p>-<i>" for i < perPartition.
func edge(t *testing.T, partitions, perPartition int) (*spool.Spool, *spool.Stream, []string) {
	t.Helper()
	s := spooltest.Open(t, t.TempDir(), spool.Options{}, map[string]int{"app": partitions})
	st := spooltest.Stream(t, s, "app")
	var want []string
	for p := 0; p < partitions; p++ {
		tag := fmt.Sprintf("p%d", p)
		spooltest.AppendNumbered(t, st.Partition(p), 0, tag, 0, perPartition, 100)
		for i := 0; i < perPartition; i++ {
			want = append(want, fmt.Sprintf("%s-%d", tag, i))
		}
	}
	sort.Strings(want)
	return s, st, want
}

// allAcked reports whether the peer acknowledged every partition to its end.
func allAcked(out *Output) bool {
	for _, c := range out.group.Cursors() {
		if c.Acked() < c.Partition().NextOffset() {
			return false
		}
	}
	return true
}

// shipUntil runs the output until the peer acknowledged everything, then
// stops it.
func shipUntil(t *testing.T, out *Output) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- out.Run(ctx) }()
	deadline := time.After(time.Minute)
	for !allAcked(out) {
		select {
		case err := <-done:
			t.Fatalf("output stopped early: %v", err)
		case <-deadline:
			t.Fatalf("waited a minute for the peer to acknowledge everything; acked %d frames", out.Stats().Acked.Load())
		case <-time.After(5 * time.Millisecond):
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
}

func equal(t *testing.T, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("core holds %d records, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("record %d: %q, want %q", i, got[i], want[i])
		}
	}
}

func TestShipExactlyOnce(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cfg     Config
		tls     bool
		mtls    bool
		minSent uint64 // frames sent with sendfile, at least
	}{
		{name: "sendfile", minSent: 1},
		{name: "buffered", cfg: Config{DisableSendfile: true}},
		{name: "tls", tls: true},
		{name: "mtls", tls: true, mtls: true},
		{name: "small window and frames", cfg: Config{FrameBytes: 4 << 10, Connections: 3}, minSent: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var inCfg fwdin.Config
			inCfg.Token = "tok"
			if tc.cfg.FrameBytes != 0 {
				inCfg.WindowBytes = 16 << 10
			}
			cfg := tc.cfg
			if tc.tls {
				dir := t.TempDir()
				writeCert(t, dir)
				inCfg.TLS = fwdin.TLSConfig{CertFile: filepath.Join(dir, "cert.pem"), KeyFile: filepath.Join(dir, "key.pem")}
				cfg.TLS = TLSConfig{Enabled: true, CAFile: filepath.Join(dir, "cert.pem"), ServerName: "localhost"}
				if tc.mtls {
					inCfg.TLS.ClientCAFile = filepath.Join(dir, "cert.pem")
					cfg.TLS.CertFile, cfg.TLS.KeyFile = inCfg.TLS.CertFile, inCfg.TLS.KeyFile
				}
			}
			c := startCore(t, inCfg, 2)
			es, st, want := edge(t, 4, 1000)
			cfg.Name, cfg.Token = "to-core", "tok"
			cfg.Endpoints = []string{c.in.Addr().String()}
			out, err := New(cfg, es, []*spool.Stream{st}, nil)
			if err != nil {
				t.Fatal(err)
			}
			shipUntil(t, out)
			equal(t, c.bodies(t), want)
			if s := out.Stats().Sendfile.Load(); s < tc.minSent || (tc.minSent == 0 && s != 0) {
				t.Fatalf("%d frames by sendfile", s)
			}
			// Everything acknowledged is committed: a second run sends nothing.
			cp, _ := es.Checkpoints().Load("to-core")
			for p := 0; p < 4; p++ {
				if cp[spool.Key{Stream: "app", Partition: p}] != 1000 {
					t.Fatalf("checkpoint %v", cp)
				}
			}
		})
	}
}

// A restarted output that lost its checkpoint sends everything again; the
// core stores nothing twice.
func TestResendIsDropped(t *testing.T) {
	c := startCore(t, fwdin.Config{}, 3)
	es, st, want := edge(t, 2, 500)
	for i, name := range []string{"first", "second"} {
		out, err := New(Config{Name: name, Endpoints: []string{c.in.Addr().String()}}, es, []*spool.Stream{st}, nil)
		if err != nil {
			t.Fatal(err)
		}
		shipUntil(t, out)
		if i == 1 && out.Stats().Frames.Load() == 0 {
			t.Fatal("second output sent nothing")
		}
	}
	equal(t, c.bodies(t), want)
	if d := c.in.Stats().Duplicates.Load(); d == 0 {
		t.Fatal("no duplicates dropped")
	}
}

// With the first endpoint down, partitions fail over to the second; with
// both up, they are spread over both.
func TestFailoverAndBalance(t *testing.T) {
	down, _ := net.Listen("tcp", "127.0.0.1:0")
	deadAddr := down.Addr().String()
	down.Close()
	c1 := startCore(t, fwdin.Config{}, 1)
	es, st, want := edge(t, 4, 200)
	out, err := New(Config{Name: "fo", Endpoints: []string{deadAddr, c1.in.Addr().String()},
		BackoffInitial: time.Millisecond, BackoffMax: 10 * time.Millisecond}, es, []*spool.Stream{st}, nil)
	if err != nil {
		t.Fatal(err)
	}
	shipUntil(t, out)
	equal(t, c1.bodies(t), want)

	c2 := startCore(t, fwdin.Config{}, 1)
	c3 := startCore(t, fwdin.Config{}, 1)
	es, st, want = edge(t, 4, 200)
	out, err = New(Config{Name: "lb", Endpoints: []string{c2.in.Addr().String(), c3.in.Addr().String()}}, es, []*spool.Stream{st}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- out.Run(ctx) }()
	waitAcked(t, out, "both cores to acknowledge every partition")
	cancel()
	<-done
	b2, b3 := c2.bodies(t), c3.bodies(t)
	if len(b2) != 400 || len(b3) != 400 {
		t.Fatalf("spread %d/%d, want 400/400", len(b2), len(b3))
	}
	both := append(b2, b3...)
	sort.Strings(both)
	equal(t, both, want)
}

// The output keeps retrying while the core is down and catches up after.
func TestCoreDownThenUp(t *testing.T) {
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	es, st, want := edge(t, 2, 300)
	out, err := New(Config{Name: "late", Endpoints: []string{addr},
		BackoffInitial: time.Millisecond, BackoffMax: 20 * time.Millisecond}, es, []*spool.Stream{st}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- out.Run(ctx) }()
	componenttest.WaitFor(t, time.Minute, "three failed connects to the core that is down", func() bool { return out.Stats().Reconnects.Load() >= 3 })
	if out.Healthy() {
		t.Fatal("healthy with the core down")
	}
	c := startCore(t, fwdin.Config{Address: addr}, 2)
	waitAcked(t, out, "the core, up at last, to acknowledge everything")
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	equal(t, c.bodies(t), want)
}

func writeCert(t *testing.T, dir string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"},
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	os.WriteFile(filepath.Join(dir, "cert.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(filepath.Join(dir, "key.pem"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
}

// A client without a certificate gets nowhere with an mTLS core; the
// output keeps retrying and nothing is stored.
func TestMTLSRefusesClientWithoutCertificate(t *testing.T) {
	dir := t.TempDir()
	writeCert(t, dir)
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	c := startCore(t, fwdin.Config{TLS: fwdin.TLSConfig{CertFile: cert, KeyFile: key, ClientCAFile: cert}}, 1)
	es, st, _ := edge(t, 1, 10)
	out, err := New(Config{Name: "nocert", Endpoints: []string{c.in.Addr().String()},
		TLS: TLSConfig{Enabled: true, CAFile: cert, ServerName: "localhost"}, BackoffInitial: time.Millisecond, BackoffMax: 5 * time.Millisecond},
		es, []*spool.Stream{st}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- out.Run(ctx) }()
	componenttest.WaitFor(t, time.Minute, "three refused attempts without a client certificate", func() bool { return out.Stats().Reconnects.Load() >= 3 })
	cancel()
	<-done
	if n := len(c.bodies(t)); n != 0 || out.Stats().Acked.Load() != 0 {
		t.Fatalf("stored %d records", n)
	}
}

// A peer that accepts the hello and then says nothing — no ACKs, no
// heartbeats — is given up on, and the output connects again.
func TestSilentPeerIsDropped(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 8)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			protocol.ReadClientHello(c)
			c.Write(protocol.AppendServerHello(nil, &protocol.ServerHello{Version: protocol.Version, Accepted: true,
				MaxFrame: 1 << 20, Window: 1 << 20, Heartbeat: 20}))
			accepted <- c // keep it open, silent
		}
	}()
	es, st, _ := edge(t, 1, 10)
	out, err := New(Config{Name: "silent", Endpoints: []string{ln.Addr().String()},
		BackoffInitial: time.Millisecond, BackoffMax: 5 * time.Millisecond}, es, []*spool.Stream{st}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- out.Run(ctx) }()
	for i := 0; i < 2; i++ {
		select {
		case c := <-accepted:
			defer c.Close()
		case <-time.After(time.Minute):
			t.Fatalf("waited a minute for connection %d: the silent peer was not given up on", i+1)
		}
	}
	cancel()
	<-done
	if out.Stats().Reconnects.Load() == 0 || out.Stats().Acked.Load() != 0 {
		t.Fatalf("reconnects %d, acked %d", out.Stats().Reconnects.Load(), out.Stats().Acked.Load())
	}
}

// An idle connection stays up: heartbeats keep it alive past three
// intervals of silence.
func TestHeartbeatsKeepIdleConnection(t *testing.T) {
	c := startCore(t, fwdin.Config{Heartbeat: 100 * time.Millisecond}, 1)
	px := startHeartbeatProxy(t, c.in.Addr().String())
	es, st, want := edge(t, 1, 10)
	out, err := New(Config{Name: "idle", Endpoints: []string{px.addr()}}, es, []*spool.Stream{st}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- out.Run(ctx) }()
	waitAcked(t, out, "the core to acknowledge the first records")
	// Idle for seven heartbeat intervals at least: fourteen heartbeats from
	// the core, its own and its echoes of the edge's (two an interval at
	// most), while the connection held.
	px.holds(t, out, "the idle connection", 14, 3*100*time.Millisecond)
	spooltest.AppendNumbered(t, st.Partition(0), 0, "late", 0, 1, 1)
	waitAcked(t, out, "the core to acknowledge the record appended after the idle spell")
	cancel()
	<-done
	if r := out.Stats().Reconnects.Load(); r != 0 {
		t.Fatalf("%d reconnects on an idle connection", r)
	}
	if n := px.conns.Load(); n != 1 {
		t.Fatalf("%d connections on an idle edge, want 1", n)
	}
	if got := len(c.bodies(t)); got != len(want)+1 {
		t.Fatalf("core holds %d", got)
	}
}

// A core whose spool is full blocks its appends (when_full: block); the edge
// waits on the open connection — kept alive by the core's heartbeats —
// instead of reconnecting, and catches up once the core's own output frees
// space.
func TestFullCoreHoldsConnection(t *testing.T) {
	s := spooltest.Open(t, t.TempDir(), spool.Options{SegmentBytes: 64 << 10}, nil)
	st, err := s.Stream("core", spool.StreamOptions{Partitions: 1, MaxBytes: 256 << 10, WhenFull: spool.Block})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Checkpoints().Register("downstream"); err != nil {
		t.Fatal(err)
	}
	in, err := fwdin.New(fwdin.Config{Address: "127.0.0.1:0", Heartbeat: 150 * time.Millisecond}, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	inDone := make(chan error)
	go func() { inDone <- in.Run(ctx) }()
	defer func() { cancel(); <-inDone }()
	px := startHeartbeatProxy(t, in.Addr().String())

	es, est, _ := edge(t, 1, 100_000) // ~1.3 MiB
	out, err := New(Config{Name: "full", Endpoints: []string{px.addr()}, FrameBytes: 16 << 10}, es, []*spool.Stream{est}, nil)
	if err != nil {
		t.Fatal(err)
	}
	octx, ocancel := context.WithCancel(context.Background())
	outDone := make(chan error)
	go func() { outDone <- out.Run(octx) }()
	p := st.Partition(0)
	componenttest.WaitFor(t, time.Minute, "the core's append to block on its full stream", func() bool {
		if allAcked(out) {
			t.Fatalf("core never blocked: %+v", p.Stats())
		}
		return p.Stats().BlockedAppends > 0
	})
	// Blocked for five heartbeat intervals at least: ten heartbeats from
	// the core (echoes included, two an interval at most).
	px.holds(t, out, "the connection to the full core", 10, 3*150*time.Millisecond)
	if r := out.Stats().Reconnects.Load(); r != 0 {
		t.Fatalf("%d reconnects while the core was full", r)
	}
	for deadline := time.Now().Add(time.Minute); !allAcked(out); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited a minute for the edge to catch up once the core freed space; the core holds %d of 100000", p.NextOffset())
		}
		if err := s.Checkpoints().Commit("downstream", map[spool.Key]uint64{{Stream: "core"}: p.NextOffset()}); err != nil {
			t.Fatal(err)
		}
	}
	ocancel()
	<-outDone
	if r := out.Stats().Reconnects.Load(); r != 0 {
		t.Fatalf("%d reconnects", r)
	}
	if n := p.NextOffset(); n != 100_000 {
		t.Fatalf("core appended %d records, want 100000", n)
	}
	if n := px.conns.Load(); n != 1 {
		t.Fatalf("%d connections to the full core, want 1", n)
	}
}

// waitAcked waits (up to a minute) until the peer acknowledged everything.
func waitAcked(t *testing.T, out *Output, what string) {
	t.Helper()
	componenttest.WaitFor(t, time.Minute, what, func() bool { return allAcked(out) })
}

// heartbeatProxy relays an edge's connections to a core, counting the
// HEARTBEAT frames the core sends: what shows that a connection lived
// through its heartbeat intervals.
type heartbeatProxy struct {
	ln    net.Listener
	beats atomic.Uint64 // HEARTBEAT frames from the core
	conns atomic.Uint64 // connections relayed
}

func startHeartbeatProxy(t *testing.T, core string) *heartbeatProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	px := &heartbeatProxy{ln: ln}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var open []net.Conn
	wg.Go(func() {
		for {
			e, err := ln.Accept()
			if err != nil {
				return
			}
			px.conns.Add(1)
			c, err := net.Dial("tcp", core)
			if err != nil {
				e.Close()
				continue
			}
			mu.Lock()
			open = append(open, e, c)
			mu.Unlock()
			wg.Go(func() { io.Copy(c, e); c.Close(); e.Close() })
			wg.Go(func() { px.relay(e, c) })
		}
	})
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range open {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return px
}

func (px *heartbeatProxy) addr() string { return px.ln.Addr().String() }

// relay copies the core's side to the edge as it reads its frames.
func (px *heartbeatProxy) relay(e, c net.Conn) {
	defer e.Close()
	defer c.Close()
	br := bufio.NewReader(io.TeeReader(c, e))
	if _, err := protocol.ReadServerHello(br); err != nil {
		return
	}
	r := protocol.NewReader(br, 1<<20)
	for {
		f, err := r.ReadFrame()
		if err != nil {
			return
		}
		if f.Type == protocol.TypeHeartbeat {
			px.beats.Add(1)
		}
	}
}

// holds waits until the edge's connection count and reconnects have not
// changed for settle while the core sent beats heartbeats, and fails unless
// the one connection held throughout.
func (px *heartbeatProxy) holds(t *testing.T, out *Output, what string, beats uint64, settle time.Duration) {
	t.Helper()
	type conn struct{ conns, reconnects uint64 }
	got := componenttest.Quiesce(t, componenttest.Quiet[conn]{
		What:     what,
		Observe:  func() conn { return conn{px.conns.Load(), out.Stats().Reconnects.Load()} },
		Settle:   settle,
		Progress: px.beats.Load,
		Rounds:   beats,
	})
	if got != (conn{1, 0}) {
		t.Fatalf("%s: %d connections, %d reconnects over %d heartbeats; want the one connection held", what, got.conns, got.reconnects, beats)
	}
}

// A batch damaged on the edge's disk is refused by the core; the output
// then checks what it sends, skips the damaged batch (counted) and delivers
// everything else — the partition does not stop.
func TestDamagedBatchSkipped(t *testing.T) {
	c := startCore(t, fwdin.Config{}, 1)
	dir := t.TempDir()
	es := spooltest.Open(t, dir, spool.Options{}, map[string]int{"app": 1})
	st := spooltest.Stream(t, es, "app")
	spooltest.AppendNumbered(t, st.Partition(0), 0, "r", 0, 30, 10) // 3 batches
	// Flip a byte in the middle batch's records, on disk.
	rg, err := st.Partition(0).NewReader(10).Next(1)
	if err != nil || rg.First != 10 {
		t.Fatalf("range %+v %v", rg, err)
	}
	f, err := os.OpenFile(rg.File.Name(), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	var b [1]byte
	f.ReadAt(b[:], rg.Pos+rg.Len-2)
	b[0] ^= 0xff
	f.WriteAt(b[:], rg.Pos+rg.Len-2)
	f.Close()
	out, err := New(Config{Name: "dmg", Endpoints: []string{c.in.Addr().String()},
		BackoffInitial: time.Millisecond, BackoffMax: 5 * time.Millisecond}, es, []*spool.Stream{st}, nil)
	if err != nil {
		t.Fatal(err)
	}
	shipUntil(t, out)
	if n := out.Stats().CorruptBatches.Load(); n != 1 {
		t.Fatalf("%d damaged batches counted", n)
	}
	got := c.bodies(t)
	if len(got) != 20 || got[0] != "r-0" || got[len(got)-1] != "r-9" {
		t.Fatalf("core holds %q", got)
	}
	for _, b := range got {
		if strings.HasPrefix(b, "r-1") && b != "r-1" {
			t.Fatalf("damaged batch's record %q delivered", b)
		}
	}
}
