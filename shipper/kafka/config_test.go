package kafka

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/capstan-agent/capstan/component/conf"
	"github.com/capstan-agent/capstan/component/kafkaconf"
	"github.com/capstan-agent/capstan/component/tlsconf"
)

func TestConfigValidate(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "nope")
	secret := filepath.Join(dir, "secret")
	os.WriteFile(secret, []byte("s3cret\n"), 0o600)
	for _, tc := range []struct {
		name string
		set  func(c *Config)
		want string // "" for valid
	}{
		{"defaults with brokers and a topic", func(c *Config) {}, ""},
		{"no brokers", func(c *Config) { c.Brokers = nil }, "brokers: missing"},
		{"broker without port", func(c *Config) { c.Brokers = []string{"kafka-0"} }, `brokers[0]: "kafka-0" is not host:port`},
		{"broker port word", func(c *Config) { c.Brokers = []string{"k:x"} }, `brokers[0]: "k:x": port "x" is not a port number`},
		{"broker port range", func(c *Config) { c.Brokers = []string{"k:0"} }, `port "0" is not a port number`},
		{"broker without host", func(c *Config) { c.Brokers = []string{":9092"} }, `brokers[0]: ":9092" is not host:port`},
		{"ipv6 broker", func(c *Config) { c.Brokers = []string{"[::1]:9092"} }, ""},
		{"no topic", func(c *Config) { c.Topic = "" }, "topic: missing"},
		{"topic template", func(c *Config) { c.Topic = "logs-${k8s.namespace.name}" }, ""},
		{"topic names no field", func(c *Config) { c.Topic = "logs-${}" }, `topic: "logs-${}": ${} at byte 5 names no field`},
		{"topic unterminated", func(c *Config) { c.Topic = "logs-${ns" }, "unterminated ${ at byte 5"},
		{"topic bad byte", func(c *Config) { c.Topic = "logs app" }, `" " at byte 4 cannot be in a topic name`},
		{"key template", func(c *Config) { c.Key = "${pod}" }, "key: \"${pod}\": give a field name"},
		{"header pattern", func(c *Config) { c.Headers = []string{"k8s.*.name"} }, `headers[0]: "k8s.*.name": give a field name, or a prefix`},
		{"all headers", func(c *Config) { c.Headers = []string{"*"} }, ""},
		{"unknown compression", func(c *Config) { c.Compression = "brotli" }, `compression: "brotli" is not one of none, gzip, snappy, lz4, zstd`},
		{"unknown encoding", func(c *Config) { c.Encoding = "avro" }, `encoding: "avro" is not one of json, raw`},
		{"transaction timeout", func(c *Config) { c.ExactlyOnce, c.TransactionTimeout = true, time.Hour }, "transaction_timeout: 1h: must be between 1s and 15m"},
		{"transaction timeout unused", func(c *Config) { c.TransactionTimeout = time.Hour }, ""},
		{"max message bytes", func(c *Config) { c.MaxMessageBytes = 10 }, "max_message_bytes: must be between"},
		{"sasl without credentials", func(c *Config) { c.SASL = &kafkaconf.SASL{Mechanism: kafkaconf.ScramSHA256} }, "sasl.password: missing"},
		{"sasl without user", func(c *Config) { c.SASL = &kafkaconf.SASL{Mechanism: kafkaconf.Plain, Password: "p"} }, "sasl.username: missing"},
		{"sasl mechanism", func(c *Config) { c.SASL = &kafkaconf.SASL{Mechanism: "GSSAPI", Username: "u", Password: "p"} }, `sasl.mechanism: "GSSAPI" is not one of PLAIN`},
		{"sasl both passwords", func(c *Config) {
			c.SASL = &kafkaconf.SASL{Mechanism: kafkaconf.Plain, Username: "u", Password: "p", PasswordFile: secret}
		}, "sasl.password: give password or password_file, not both"},
		{"sasl password file missing", func(c *Config) {
			c.SASL = &kafkaconf.SASL{Mechanism: kafkaconf.Plain, Username: "u", PasswordFile: missing}
		}, "sasl.password_file: cannot read " + missing},
		{"sasl password file", func(c *Config) {
			c.SASL = &kafkaconf.SASL{Mechanism: kafkaconf.ScramSHA512, Username: "u", PasswordFile: secret}
		}, ""},
		{"tls files missing", func(c *Config) { c.TLS = &tlsconf.Client{CAFile: missing, MinVersion: "1.2"} }, "tls.ca_file: cannot read " + missing},
		{"concurrency", func(c *Config) { c.Concurrency = 0 }, "concurrency: must be between 1 and 256, got 0"},
		{"engine keys", func(c *Config) { c.Batch.MaxRecords = 0 }, "batch.max_records: must be between"},
	} {
		c := &Config{}
		conf.ApplyDefaults(c)
		c.Brokers, c.Topic = []string{"kafka-0:9092"}, "logs"
		tc.set(c)
		err := c.Validate()
		if tc.want == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
		}
	}
}

// TestOpenReadsSecrets: what validation checked is read again when the
// output starts; a file gone since fails the start with its key.
func TestOpenReadsSecrets(t *testing.T) {
	secret := filepath.Join(t.TempDir(), "secret")
	for _, tc := range []struct {
		name string
		set  func(c *Config)
		want string
	}{
		{"password file gone", func(c *Config) {
			c.SASL = &kafkaconf.SASL{Mechanism: kafkaconf.Plain, Username: "u", PasswordFile: secret}
		}, "sasl.password_file"},
		{"ca file gone", func(c *Config) { c.TLS = &tlsconf.Client{CAFile: secret, MinVersion: "1.2"} }, "tls.ca_file"},
	} {
		c := &Config{}
		conf.ApplyDefaults(c)
		c.Brokers, c.Topic = []string{"127.0.0.1:9"}, "logs"
		tc.set(c)
		cl := &client{cfg: c, log: settings(t).Logger}
		if err := cl.open(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error naming %s", tc.name, err, tc.want)
		}
	}
}
