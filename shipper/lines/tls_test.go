package lines

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/capstan-agent/capstan/component/componenttest"
	"github.com/capstan-agent/capstan/component/tlsconf"
	"github.com/capstan-agent/capstan/spool"
	"github.com/capstan-agent/capstan/spool/spooltest"
)

// pki is a CA and a certificate for each of a server and a client, as PEM
// files.
type pki struct {
	ca, serverCert, serverKey, clientCert, clientKey string
	pool                                             *x509.CertPool
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	dir := t.TempDir()
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"}, IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	p := &pki{ca: write("ca.pem", "CERTIFICATE", caDER), pool: x509.NewCertPool()}
	p.pool.AddCert(ca)
	leaf := func(name string, serial int64, usage x509.ExtKeyUsage) (string, string) {
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name}, DNSNames: []string{name},
			ExtKeyUsage: []x509.ExtKeyUsage{usage}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &k.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kb, _ := x509.MarshalPKCS8PrivateKey(k)
		return write(name+".pem", "CERTIFICATE", der), write(name+"-key.pem", "PRIVATE KEY", kb)
	}
	p.serverCert, p.serverKey = leaf("localhost", 2, x509.ExtKeyUsageServerAuth)
	p.clientCert, p.clientKey = leaf("capstan", 3, x509.ExtKeyUsageClientAuth)
	return p
}

// Lines over mTLS: the server requires a client certificate of its CA; the
// output verifies the server against the configured CA. Acknowledgements
// count TLS records on the socket, so the checkpoint reaches the end.
func TestTCPOverMutualTLS(t *testing.T) {
	p := newPKI(t)
	cert, err := tls.LoadX509KeyPair(p.serverCert, p.serverKey)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert},
		ClientCAs: p.pool, ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	s := spooltest.Open(t, t.TempDir(), spool.Options{}, map[string]int{"app": 1})
	st := spooltest.Stream(t, s, "app")
	spooltest.AppendNumbered(t, st.Partition(0), 0, "a", 0, 5000, 100)
	cfg := defaults(func(c *TCPConfig) {
		c.Address = ln.Addr().String()
		c.TLS = &tlsconf.Client{CAFile: p.ca, CertFile: p.clientCert, KeyFile: p.clientKey, ServerName: "localhost", MinVersion: "1.2"}
	})
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	o, err := NewTCP(settings("t"), cfg)
	if err != nil {
		t.Fatal(err)
	}
	running := componenttest.RunOutput(t, o, host(s, "t", st))
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	lr := &lineReader{next: map[string]int{}}
	lr.read(t, bufio.NewReader(c), 5000)
	if state := c.(*tls.Conn).ConnectionState(); len(state.PeerCertificates) == 0 || state.PeerCertificates[0].Subject.CommonName != "capstan" {
		t.Errorf("client certificate %v", state.PeerCertificates)
	}
	waitFor(t, "5000 lines committed", func() bool { got, _ := s.Checkpoints().Load("t"); return got[spool.Key{Stream: "app"}] == 5000 })
	if err := running.Stop(t); err != nil {
		t.Fatal(err)
	}
}

// A server whose certificate does not chain to the configured CA is
// refused: nothing is sent, the output is degraded.
func TestTCPRefusesUnknownServer(t *testing.T) {
	p, other := newPKI(t), newPKI(t)
	cert, _ := tls.LoadX509KeyPair(other.serverCert, other.serverKey)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.(*tls.Conn).Handshake()
			c.Close()
		}
	}()
	s := spooltest.Open(t, t.TempDir(), spool.Options{}, map[string]int{"app": 1})
	st := spooltest.Stream(t, s, "app")
	spooltest.AppendNumbered(t, st.Partition(0), 0, "a", 0, 10, 10)
	o, err := NewTCP(settings("t"), defaults(func(c *TCPConfig) {
		c.Address, c.Retry.Initial, c.Retry.Max = ln.Addr().String(), time.Millisecond, 10*time.Millisecond
		c.TLS = &tlsconf.Client{CAFile: p.ca, ServerName: "localhost", MinVersion: "1.2"}
	}))
	if err != nil {
		t.Fatal(err)
	}
	h := host(s, "t", st)
	running := componenttest.RunOutput(t, o, h)
	waitFor(t, "a refused handshake", func() bool { return o.Stats().Failures("tls") > 0 })
	if err := running.Stop(t); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Checkpoints().Load("t"); got[spool.Key{Stream: "app"}] != 0 {
		t.Fatalf("committed %v to a server it does not trust", got)
	}
}
