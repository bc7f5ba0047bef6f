package kafka

import (
	"context"
	"crypto/tls"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/capstan-agent/capstan/component"
	"github.com/capstan-agent/capstan/component/componenttest"
	"github.com/capstan-agent/capstan/component/tlsconf"
)

// TestTLS: over mutual TLS the output verifies the brokers against ca_file,
// shows its own certificate, and delivers; with a CA that did not sign the
// brokers', or without a client certificate, it is degraded and delivers,
// drops and commits nothing. (The helper cluster program speaks plain TCP,
// so this cluster runs in the test's process: nothing here is killed.)
func TestTLS(t *testing.T) {
	pki, other := componenttest.NewPKI(t), componenttest.NewPKI(t)
	kc, err := kfake.NewCluster(kfake.Ports(0), kfake.SeedTopics(1, "logs"),
		kfake.TLS(&tls.Config{Certificates: []tls.Certificate{pki.Server}, ClientCAs: pki.Pool,
			ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12}))
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	for _, tc := range []struct {
		name string
		tls  tlsconf.Client
		ok   bool
	}{
		{"trusted, with a client certificate", tlsconf.Client{CAFile: pki.CAFile, CertFile: pki.ClientCertFile, KeyFile: pki.ClientKey}, true},
		{"another CA", tlsconf.Client{CAFile: other.CAFile, CertFile: pki.ClientCertFile, KeyFile: pki.ClientKey}, false},
		{"no client certificate", tlsconf.Client{CAFile: pki.CAFile}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, 1)
			r.add(0, 0, 100, 10)
			c := testConfig(kc.ListenAddrs(), func(c *Config) {
				tc.tls.MinVersion = "1.2"
				c.TLS = &tc.tls
			})
			_, stop := r.run(c, false)
			if tc.ok {
				waitFor(t, "every record committed over TLS", func() bool { return r.Committed(0) == 100 })
			} else {
				waitFor(t, "the output to report itself degraded", func() bool {
					s, _ := r.Host.State()
					return s == component.Degraded
				})
			}
			if err := stop(); err != nil {
				t.Fatal(err)
			}
			if !tc.ok {
				if got := r.Committed(0); got != 0 {
					t.Errorf("committed %d over a TLS connection that should fail", got)
				}
				if dl := r.deadLetters(); len(dl) != 0 {
					t.Errorf("%d records dead-lettered over a TLS connection that failed", len(dl))
				}
			}
		})
	}
	// What the trusted run wrote is in the topic.
	cl, err := kgo.NewClient(kgo.SeedBrokers(kc.ListenAddrs()...), kgo.ConsumeTopics("logs"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DialTLSConfig(&tls.Config{RootCAs: pki.Pool, Certificates: []tls.Certificate{clientPair(t, pki)}}))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), readFor)
	defer cancel()
	n := 0
	waitFor(t, "100 records in the topic", func() bool {
		f := cl.PollRecords(ctx, 1000)
		n += len(f.Records())
		return n >= 100
	})
	if n != 100 {
		t.Errorf("%d records in the topic, want 100", n)
	}
}

func clientPair(t *testing.T, p *componenttest.PKI) tls.Certificate {
	t.Helper()
	c, err := tls.LoadX509KeyPair(p.ClientCertFile, p.ClientKey)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
