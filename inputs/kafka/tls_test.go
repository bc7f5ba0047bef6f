package kafka

import (
	"crypto/tls"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/capstan-agent/capstan/component"
	"github.com/capstan-agent/capstan/component/componenttest"
	"github.com/capstan-agent/capstan/component/conf"
	"github.com/capstan-agent/capstan/component/tlsconf"
)

// Over TLS the input verifies the brokers against ca_file (and server_name)
// and reads; with another CA it stays degraded and reads nothing. (The
// helper cluster program speaks plain TCP, so this cluster runs in the
// test's process: nothing here is killed.)
func TestTLS(t *testing.T) {
	pki, other := componenttest.NewPKI(t), componenttest.NewPKI(t)
	caFile, server, otherCA := pki.CAFile, pki.Server, other.CAFile
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
