package kafka

import (
	"strings"
	"testing"
	"time"

	"github.com/capstan-agent/capstan/component/conf"
	"github.com/capstan-agent/capstan/component/kafkaconf"
)

func validConfig() *Config {
	c := &Config{}
	conf.ApplyDefaults(c)
	c.Brokers, c.Topics = []string{"k1:9092"}, []string{"logs"}
	return c
}

// Each bad value is refused under its own key path.
func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Config)
		path string // "" for valid
	}{
		{"defaults", func(*Config) {}, ""},
		{"comma-joined brokers", func(c *Config) { c.Brokers = []string{"a:1, b:2", "[::1]:9092"} }, ""},
		{"regex", func(c *Config) { c.Topics, c.TopicsRegex = nil, "^app-" }, ""},
		{"sasl", func(c *Config) { c.SASL = &kafkaconf.SASL{Mechanism: "SCRAM-SHA-256", Username: "u", Password: "p"} }, ""},
		{"no brokers", func(c *Config) { c.Brokers = nil }, "brokers"},
		{"broker without port", func(c *Config) { c.Brokers = []string{"k1:9092", "k2"} }, "brokers[1]"},
		{"broker URL", func(c *Config) { c.Brokers = []string{"kafka://k1:9092"} }, "brokers[0]"},
		{"broker port 0", func(c *Config) { c.Brokers = []string{"k1:0"} }, "brokers[0]"},
		{"empty entry", func(c *Config) { c.Brokers = []string{"k1:1,"} }, "brokers[0]"},
		{"no topics", func(c *Config) { c.Topics = nil }, "topics"},
		{"both", func(c *Config) { c.TopicsRegex = "x" }, "topics_regex"},
		{"bad regex", func(c *Config) { c.Topics, c.TopicsRegex = nil, "a(" }, "topics_regex"},
		{"bad topic", func(c *Config) { c.Topics = []string{"a/b"} }, "topics[0]"},
		{"topic twice", func(c *Config) { c.Topics = []string{"a", "a"} }, "topics[1]"},
		{"no group", func(c *Config) { c.Group = "" }, "group"},
		{"start_at", func(c *Config) { c.StartAt = "beginning" }, "start_at"},
		{"isolation", func(c *Config) { c.Isolation = "serializable" }, "isolation"},
		{"max_poll_records", func(c *Config) { c.MaxPollRecords = 0 }, "max_poll_records"},
		{"batch_bytes", func(c *Config) { c.BatchBytes = 10 }, "batch_bytes"},
		{"max_record_bytes", func(c *Config) { c.MaxRecordBytes = 0 }, "max_record_bytes"},
		{"heartbeat past session", func(c *Config) { c.HeartbeatInterval = time.Minute }, "heartbeat_interval"},
		{"metadata_max_age", func(c *Config) { c.MetadataMaxAge = time.Millisecond }, "metadata_max_age"},
		{"sasl without mechanism", func(c *Config) { c.SASL = &kafkaconf.SASL{Username: "u", Password: "p"} }, "sasl.mechanism"},
		{"sasl without user", func(c *Config) { c.SASL = &kafkaconf.SASL{Mechanism: "PLAIN", Password: "p"} }, "sasl.username"},
		{"sasl without password", func(c *Config) { c.SASL = &kafkaconf.SASL{Mechanism: "PLAIN", Username: "u"} }, "sasl.password"},
		{"sasl mechanism", func(c *Config) { c.SASL = &kafkaconf.SASL{Mechanism: "GSSAPI", Username: "u", Password: "p"} }, "sasl.mechanism"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := validConfig()
			tc.edit(c)
			err := c.Validate()
			if tc.path == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var es conf.Errors
			if err != nil {
				es, _ = err.(conf.Errors)
			}
			if !es.Has(tc.path) {
				t.Fatalf("want a problem at %s, got %v", tc.path, err)
			}
			for _, e := range es {
				if strings.Contains(e.Error(), "\n") {
					t.Errorf("a problem of more than one line: %q", e.Error())
				}
			}
		})
	}
}
