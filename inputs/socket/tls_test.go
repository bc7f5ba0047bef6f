package socket

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// pki is a throw-away CA that signs server and client certificates.
type pki struct {
	t    *testing.T
	dir  string
	ca   *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newPKI(t *testing.T) *pki {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(der)
	p := &pki{t: t, dir: t.TempDir(), ca: ca, key: key, pool: x509.NewCertPool()}
	p.pool.AddCert(ca)
	p.write("ca.pem", "CERTIFICATE", der)
	return p
}

func (p *pki) write(name, typ string, der []byte) string {
	path := filepath.Join(p.dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		p.t.Fatal(err)
	}
	return path
}

// issue writes a certificate and key for cn under name.crt and name.key.
func (p *pki) issue(name, cn string, serial int64, usage x509.ExtKeyUsage) tls.Certificate {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{usage}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &key.PublicKey, p.key)
	if err != nil {
		p.t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	p.write(name+".key", "EC PRIVATE KEY", kder)
	p.write(name+".crt", "CERTIFICATE", der)
	cert, err := tls.LoadX509KeyPair(filepath.Join(p.dir, name+".crt"), filepath.Join(p.dir, name+".key"))
	if err != nil {
		p.t.Fatal(err)
	}
	return cert
}

func (p *pki) path(name string) string { return filepath.Join(p.dir, name) }

func TestTLS(t *testing.T) {
	p := newPKI(t)
	p.issue("server", "server one", 10, x509.ExtKeyUsageServerAuth)
	client := p.issue("client", "client", 20, x509.ExtKeyUsageClientAuth)
	h := start(t, Config{Addresses: []string{"tcp://127.0.0.1:0"}, TLS: &TLSConfig{
		CertFile: p.path("server.crt"), KeyFile: p.path("server.key"),
		ClientCAFile: p.path("ca.pem"), MinVersion: "1.3",
	}}, 1)
	h.in.certs.mu.Lock()
	h.in.certs.interval = 0
	h.in.certs.mu.Unlock()
	addr := h.addr(0)
	send := func(cfg *tls.Config, msg string) (string, error) {
		c, err := tls.Dial("tcp", addr, cfg)
		if err != nil {
			return "", err
		}
		defer c.Close()
		taken := h.in.Stats().Messages.Load()
		if _, err := fmt.Fprintln(c, msg); err != nil {
			return "", err
		}
		// TLS 1.3 reports a refused client certificate on a read; the
		// input never writes otherwise. Wait for either: the input took
		// the line, or the read failed.
		deadline := time.Now().Add(30 * time.Second)
		for h.in.Stats().Messages.Load() == taken {
			if time.Now().After(deadline) {
				t.Fatalf("waited 30s for the input to take or refuse %q; it took %d lines", msg, taken)
			}
			c.SetReadDeadline(time.Now().Add(5 * time.Millisecond))
			if _, err := c.Read(make([]byte, 1)); err != nil && !isTimeout(err) {
				return "", err
			}
		}
		return c.ConnectionState().PeerCertificates[0].Subject.CommonName, nil
	}
	good := &tls.Config{RootCAs: p.pool, Certificates: []tls.Certificate{client}, ServerName: "127.0.0.1"}
	cn, err := send(good, "with client cert")
	if err != nil || cn != "server one" {
		t.Fatalf("mTLS: %q %v", cn, err)
	}
	if _, err := send(&tls.Config{RootCAs: p.pool, ServerName: "127.0.0.1"}, "no client cert"); err == nil {
		t.Fatal("a client without a certificate got through")
	}
	old := good.Clone()
	old.MaxVersion = tls.VersionTLS12
	if _, err := send(old, "tls 1.2"); err == nil {
		t.Fatal("TLS 1.2 accepted with min_version 1.3")
	}
	// A renewed certificate is picked up without a restart.
	p.issue("server", "server two", 11, x509.ExtKeyUsageServerAuth)
	future := time.Now().Add(time.Minute)
	os.Chtimes(p.path("server.crt"), future, future)
	cn, err = send(good, "after renewal")
	if err != nil || cn != "server two" {
		t.Fatalf("after renewal: %q %v", cn, err)
	}
	// A new client CA is picked up too: its clients get in, the old ones not.
	p2 := newPKI(t)
	client2 := p2.issue("client", "client 2", 30, x509.ExtKeyUsageClientAuth)
	ca2, _ := os.ReadFile(p2.path("ca.pem"))
	os.WriteFile(p.path("ca.pem"), ca2, 0o600)
	future = future.Add(time.Minute)
	os.Chtimes(p.path("ca.pem"), future, future)
	good2 := &tls.Config{RootCAs: p.pool, Certificates: []tls.Certificate{client2}, ServerName: "127.0.0.1"}
	if _, err := send(good2, "new ca"); err != nil {
		t.Fatalf("client of the new CA: %v", err)
	}
	if _, err := send(good, "old ca"); err == nil {
		t.Fatal("client of the old CA still accepted")
	}
	// A broken renewal keeps the last good certificate.
	os.WriteFile(p.path("server.key"), []byte("not a key"), 0o600)
	future = future.Add(time.Minute)
	os.Chtimes(p.path("server.key"), future, future)
	if cn, err = send(good2, "broken renewal"); err != nil || cn != "server two" {
		t.Fatalf("after a broken renewal: %q %v", cn, err)
	}
	waitFor(t, "four lines", func() bool { return h.in.Stats().Messages.Load() == 4 })
	waitFor(t, "three handshake errors", func() bool { return h.in.Stats().TLSHandshakeErrors.Load() == 3 })
	h.stop()
	var bodies []string
	for _, r := range h.records() {
		bodies = append(bodies, r.body)
	}
	if fmt.Sprint(bodies) != "[with client cert after renewal new ca broken renewal]" {
		t.Fatalf("records %q", bodies)
	}
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

func tlsDialConfig(addr string, p *pki) (net.Conn, error) {
	return tls.Dial("tcp", addr, &tls.Config{RootCAs: p.pool, ServerName: "127.0.0.1"})
}
