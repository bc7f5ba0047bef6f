package forward

import (
	"context"
	"crypto/tls"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	fwdin "github.com/capstan-agent/capstan/inputs/forward"
	"github.com/capstan-agent/capstan/spool"
)

// fakePeer is a 127.0.0.1 server that reads what a client sends first and
// answers it with answer, then closes; with a nil answer it says nothing
// and holds the connection until the test ends.
func fakePeer(t *testing.T, answer []byte) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			buf := make([]byte, 512)
			c.SetReadDeadline(time.Now().Add(time.Second))
			c.Read(buf)
			if answer != nil {
				c.Write(answer)
				c.Close()
			}
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// tlsPeer is a Go TLS server on 127.0.0.1 that never gets a handshake
// done with a plain client.
func tlsPeer(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	writeCert(t, dir)
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.SetDeadline(time.Now().Add(5 * time.Second))
			c.(*tls.Conn).Handshake()
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return ln.Addr().String()
}

// hello connects an output configured as cfg to addr and returns the
// error of the hello exchange.
func hello(t *testing.T, cfg Config, addr string) error {
	t.Helper()
	es, st, _ := edge(t, 1, 1)
	cfg.Name, cfg.Endpoints = "probe", []string{addr}
	if cfg.DialTimeout == 0 {
		cfg.DialTimeout = 5 * time.Second
	}
	out, err := New(cfg, es, []*spool.Stream{st}, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := &session{out: out, endpoint: addr, log: zap.NewNop()}
	err = s.connect(context.Background())
	if err == nil {
		s.conn.Close()
		t.Fatalf("hello to %s succeeded", addr)
	}
	return err
}

// TestHelloSaysWhatAnswered: an output pointed at a port that is not a
// forward input says what is there, instead of only "read server hello".
func TestHelloSaysWhatAnswered(t *testing.T) {
	certDir := t.TempDir()
	writeCert(t, certDir)
	withTLS := Config{TLS: TLSConfig{Enabled: true, CAFile: filepath.Join(certDir, "cert.pem"), ServerName: "localhost"}}
	plainCore := startCore(t, fwdin.Config{}, 1)
	tokenCore := startCore(t, fwdin.Config{Token: "right"}, 1)
	for _, tc := range []struct {
		name string
		cfg  Config
		addr string
		want []string // parts of the message
	}{
		{"HTTP server", Config{}, fakePeer(t, []byte("HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n400 Bad Request")),
			[]string{`an HTTP server answered ("HTTP/1.1 400 Bad Request"), not a forward input`}},
		{"TLS alert", Config{}, fakePeer(t, []byte{0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x46}),
			[]string{"a TLS server answered (a TLS alert record): enable tls on this output"}},
		{"TLS handshake", Config{}, fakePeer(t, []byte{0x16, 0x03, 0x03, 0x00, 0x7a, 0x02, 0x00, 0x00, 0x76, 0x03, 0x03}),
			[]string{"a TLS server answered (a TLS handshake record)"}},
		{"Go TLS server", Config{}, tlsPeer(t),
			[]string{"closed the connection without answering", "does it want tls?"}},
		{"SSH server", Config{}, fakePeer(t, []byte("SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n")),
			[]string{`the peer is not a forward input: it answered "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n"`}},
		{"binary", Config{}, fakePeer(t, []byte{0x00, 0x01, 0xff, 'x'}),
			[]string{`it answered "\x00\x01\xffx"`}},
		{"nothing", Config{DialTimeout: 300 * time.Millisecond}, fakePeer(t, nil),
			[]string{"no answer within 300ms", "sent nothing back", "i/o timeout"}},
		{"TLS output, plain forward input", withTLS, plainCore.in.Addr().String(),
			[]string{"the peer is a forward input without TLS"}},
		{"TLS output, HTTP server", withTLS, fakePeer(t, []byte("HTTP/1.1 400 Bad Request\r\n\r\n")),
			[]string{"an HTTP server without TLS answered"}},
		{"forward input refusing", Config{Token: "wrong"}, tokenCore.in.Addr().String(),
			[]string{"refused by", "authentication failed"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := hello(t, tc.cfg, tc.addr)
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\nwant it to say %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "not a forward input") && strings.HasPrefix(tc.name, "forward input") {
				t.Errorf("a forward input taken for something else: %v", err)
			}
		})
	}
}
