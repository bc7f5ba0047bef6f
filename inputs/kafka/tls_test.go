package kafka

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
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/capstan-agent/capstan/component"
	"github.com/capstan-agent/capstan/component/conf"
	"github.com/capstan-agent/capstan/component/tlsconf"
)

// writePKI writes a CA and a server certificate for "localhost" as PEM
// files and returns their paths and the server's key pair.
func writePKI(t *testing.T) (caFile string, server tls.Certificate) {
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
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "localhost"}, DNSNames: []string{"localhost"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &k.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalPKCS8PrivateKey(k)
	certFile, keyFile := write("server.pem", "CERTIFICATE", der), write("server-key.pem", "PRIVATE KEY", kb)
	server, err = tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	return write("ca.pem", "CERTIFICATE", caDER), server
}

// Over TLS the input verifies the brokers against ca_file (and server_name)
// and reads; with another CA it stays degraded and reads nothing. (The
// helper cluster program speaks plain TCP, so this cluster runs in the
// test's process: nothing here is killed.)
func TestTLS(t *testing.T) {
	caFile, server := writePKI(t)
	otherCA, _ := writePKI(t)
	kc, err := kfake.NewCluster(kfake.Ports(0), kfake.SeedTopics(1, "logs"),
		kfake.TLS(&tls.Config{Certificates: []tls.Certificate{server}, MinVersion: tls.VersionTLS12}))
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	cfg := &Config{}
	conf.ApplyDefaults(cfg)
	cfg.Brokers, cfg.Topics = kc.ListenAddrs(), []string{"logs"}
	cfg.SessionTimeout, cfg.HeartbeatInterval = 6*time.Second, 200*time.Millisecond // kfake's smallest allowed session: 6s

	// Produce over TLS with a client of our own.
	cl, err := kgo.NewClient(kgo.SeedBrokers(kc.ListenAddrs()...),
		kgo.DialTLSConfig(&tls.Config{InsecureSkipVerify: true}))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	produceWith(t, cl, "logs", 3)

	t.Run("trusted", func(t *testing.T) {
		c := *cfg
		c.TLS = &tlsconf.Client{CAFile: caFile, ServerName: "localhost", MinVersion: "1.2"}
		sp, st := openSpool(t, t.TempDir(), 1)
		m := startMember(t, &c, sp, st)
		waitCount(t, 3, "three records over TLS", st)
		m.stop()
		checkOnce(t, 3, read(t, st))
	})
	t.Run("untrusted", func(t *testing.T) {
		c := *cfg
		c.Group = "other"
		c.TLS = &tlsconf.Client{CAFile: otherCA, ServerName: "localhost", MinVersion: "1.2"}
		sp, st := openSpool(t, t.TempDir(), 1)
		m := startMember(t, &c, sp, st)
		reason := waitState(t, m.host, component.Degraded, "a broker whose certificate the CA did not sign")
		m.stop()
		if n := count(st); n != 0 {
			t.Errorf("an untrusted cluster gave %d records", n)
		}
		t.Logf("degraded: %s", reason)
	})
}
