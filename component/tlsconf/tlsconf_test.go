package tlsconf

import (
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
	"strings"
	"testing"
	"time"
)

func writePair(t *testing.T, dir string) (cert, key string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"}, IsCA: true,
		BasicConstraintsValid: true, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), DNSNames: []string{"localhost"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalPKCS8PrivateKey(k)
	cert, key = filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}), 0o600)
	return cert, key
}

func TestValidate(t *testing.T) {
	dir := t.TempDir()
	cert, key := writePair(t, dir)
	junk := filepath.Join(dir, "junk")
	os.WriteFile(junk, []byte("not pem"), 0o600)
	for _, tc := range []struct {
		name string
		cfg  interface{ Validate() error }
		want string // "" = valid
	}{
		{"server ok", &Server{CertFile: cert, KeyFile: key, MinVersion: "1.3"}, ""},
		{"server without files", &Server{MinVersion: "1.2"}, "cert_file: missing"},
		{"server key is a cert", &Server{CertFile: cert, KeyFile: cert, MinVersion: "1.2"}, "key_file: " + cert + " holds no PEM block of type *PRIVATE KEY"},
		{"server cert not pem", &Server{CertFile: junk, KeyFile: key, MinVersion: "1.2"}, "cert_file: " + junk + " holds no PEM block of type CERTIFICATE"},
		{"server missing file", &Server{CertFile: "/nonexistent", KeyFile: key, MinVersion: "1.2"}, "cert_file: cannot read /nonexistent"},
		{"server bad version", &Server{CertFile: cert, KeyFile: key, MinVersion: "1.1"}, `min_version: "1.1" is not one of 1.2, 1.3`},
		{"client ok", &Client{CAFile: cert, MinVersion: "1.2"}, ""},
		{"client half a pair", &Client{CertFile: cert, MinVersion: "1.2"}, "cert_file and key_file go together"},
	} {
		err := tc.cfg.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: got %v, want %q", tc.name, err, tc.want)
		}
	}
}

// TestConfigsTalk: a server and a client made from the sections complete a
// handshake, the client verifying the server against ca_file.
func TestConfigsTalk(t *testing.T) {
	cert, key := writePair(t, t.TempDir())
	sc, err := (&Server{CertFile: cert, KeyFile: key, MinVersion: "1.3"}).Config()
	if err != nil {
		t.Fatal(err)
	}
	cc, err := (&Client{CAFile: cert, MinVersion: "1.2"}).Config("localhost")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", sc)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			c.(*tls.Conn).Handshake()
			c.Close()
		}
	}()
	c, err := tls.Dial("tcp", ln.Addr().String(), cc)
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	if v := c.ConnectionState().Version; v != tls.VersionTLS13 {
		t.Errorf("version %x, want TLS 1.3 (the server's minimum)", v)
	}
	c.Close()
	if _, err := (&Client{CAFile: key}).Config("x"); err == nil {
		t.Error("a key file accepted as CA")
	}
}
