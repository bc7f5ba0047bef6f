package kafka

import (
	"fmt"
	"github.com/capstan-agent/capstan/component/kafkaconf"
	"strings"
	"testing"
	"time"

	"github.com/capstan-agent/capstan/component"
	"github.com/capstan-agent/capstan/shipper/kafka/kafkatest"
)

// TestClusterDown: with the cluster down the output reports itself
// degraded and delivers nothing, drops nothing, commits nothing; once the
// cluster is back every record is delivered.
func TestClusterDown(t *testing.T) {
	for _, eos := range []bool{false, true} {
		t.Run(fmt.Sprint("exactly_once=", eos), func(t *testing.T) {
			c := kafkatest.Start(t, kafkatest.Options{Topics: map[string]int32{"logs": 1}})
			c.Kill()
			r := newRig(t, 1)
			r.add(0, 0, 500, 50)
			cfg := testConfig(c.Brokers, func(cfg *Config) {
				cfg.ExactlyOnce, cfg.Timeout, cfg.ConnectTimeout = eos, time.Second, 200*time.Millisecond
			})
			r.run(cfg, false)
			waitFor(t, "the output to report itself degraded", func() bool {
				s, _ := r.Host.State()
				return s == component.Degraded
			})
			if got := r.Committed(0); got != 0 {
				t.Fatalf("committed %d with the cluster down", got)
			}
			if dl := r.deadLetters(); len(dl) != 0 {
				t.Fatalf("%d records dead-lettered with the cluster down", len(dl))
			}
			c.Restart()
			waitFor(t, "every record committed after the cluster came back", func() bool { return r.Committed(0) == 500 })
			if got := c.ReadAll("logs", kafkatest.ReadCommitted, readFor); len(got) != 500 {
				t.Errorf("%d records in Kafka, want 500", len(got))
			}
			waitFor(t, "the output running again", func() bool {
				s, _ := r.Host.State()
				return s == component.Running
			})
		})
	}
}

// TestSASL: SCRAM and PLAIN credentials the cluster knows deliver; a wrong
// password delivers nothing and drops nothing. (Kafka answers a wrong
// password with SASL_AUTHENTICATION_FAILED, reason authentication; kfake
// closes the connection, reason connection.)
func TestSASL(t *testing.T) {
	c := kafkatest.Start(t, kafkatest.Options{Topics: map[string]int32{"logs": 1},
		SASL: []kafkatest.SASLUser{{Mechanism: "SCRAM-SHA-512", User: "edge", Password: "s3cret"}, {Mechanism: "PLAIN", User: "plain", Password: "pw"}}})
	for _, tc := range []struct {
		name string
		sasl kafkaconf.SASL
		ok   bool
	}{
		{"scram", kafkaconf.SASL{Mechanism: kafkaconf.ScramSHA512, Username: "edge", Password: "s3cret"}, true},
		{"plain", kafkaconf.SASL{Mechanism: kafkaconf.Plain, Username: "plain", Password: "pw"}, true},
		{"wrong password", kafkaconf.SASL{Mechanism: kafkaconf.ScramSHA512, Username: "edge", Password: "nope"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, 1)
			r.add(0, 0, 50, 50)
			cfg := testConfig(c.Brokers, func(cfg *Config) { cfg.SASL, cfg.Timeout = &tc.sasl, 2*time.Second })
			r.run(cfg, true)
			if tc.ok {
				waitFor(t, "every record committed", func() bool { return r.Committed(0) == 50 })
				return
			}
			waitFor(t, "the output degraded for its credentials", func() bool {
				s, reason := r.Host.State()
				return s == component.Degraded && (strings.Contains(reason, "authentication") || strings.Contains(reason, "connection"))
			})
			if r.Committed(0) != 0 || len(r.deadLetters()) != 0 {
				t.Errorf("records committed (%d) or dead-lettered with wrong credentials", r.Committed(0))
			}
		})
	}
}

// TestTopicMissing: a topic that does not exist (and that the cluster does
// not create) keeps the output degraded (unknown_topic) and retrying; once
// the topic is created, every record is delivered.
func TestTopicMissing(t *testing.T) {
	for _, eos := range []bool{false, true} {
		t.Run(fmt.Sprint("exactly_once=", eos), func(t *testing.T) {
			c := kafkatest.Start(t, kafkatest.Options{})
			r := newRig(t, 1)
			r.add(0, 0, 100, 50)
			r.run(testConfig(c.Brokers, func(cfg *Config) { cfg.ExactlyOnce, cfg.Topic = eos, "later" }), true)
			waitFor(t, "the output degraded for the missing topic", func() bool {
				s, reason := r.Host.State()
				return s == component.Degraded && strings.Contains(reason, "unknown_topic")
			})
			if r.Committed(0) != 0 || len(r.deadLetters()) != 0 {
				t.Fatalf("records committed (%d) or dead-lettered without a topic", r.Committed(0))
			}
			c.CreateTopic("later", 1, nil)
			waitFor(t, "every record committed once the topic exists", func() bool { return r.Committed(0) == 100 })
			if got := c.ReadAll("later", kafkatest.ReadCommitted, readFor); len(got) != 100 {
				t.Errorf("%d records in the topic, want 100", len(got))
			}
		})
	}
}
