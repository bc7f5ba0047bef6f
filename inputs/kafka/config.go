package kafka

import (
	"fmt"
	"strings"
	"time"

	"github.com/capstan-agent/capstan/component/conf"
	"github.com/capstan-agent/capstan/component/kafkaconf"
	"github.com/capstan-agent/capstan/component/tlsconf"
)

// Config is the kafka input's YAML: the keys under inputs.NAME with
// type: kafka.
type Config struct {
	Brokers           []string        `koanf:"brokers"`
	Topics            []string        `koanf:"topics"`
	TopicsRegex       string          `koanf:"topics_regex"`
	Group             string          `koanf:"group"`
	InstanceID        string          `koanf:"instance_id"`
	ClientID          string          `koanf:"client_id"`
	StartAt           string          `koanf:"start_at" enum:"earliest,latest"`
	Isolation         string          `koanf:"isolation" enum:"read_committed,read_uncommitted"`
	MaxPollRecords    int             `koanf:"max_poll_records"`
	BatchBytes        conf.Size       `koanf:"batch_bytes"`
	MaxRecordBytes    conf.Size       `koanf:"max_record_bytes"`
	FetchMaxBytes     conf.Size       `koanf:"fetch_max_bytes"`
	SessionTimeout    time.Duration   `koanf:"session_timeout"`
	HeartbeatInterval time.Duration   `koanf:"heartbeat_interval"`
	RebalanceTimeout  time.Duration   `koanf:"rebalance_timeout"`
	MetadataMaxAge    time.Duration   `koanf:"metadata_max_age"`
	TLS               *tlsconf.Client `koanf:"tls"`
	SASL              *kafkaconf.SASL `koanf:"sasl"`
}

// The defaults of the YAML keys.
const (
	DefaultGroup             = "capstan"
	DefaultMaxPollRecords    = 10_000
	DefaultBatchBytes        = 1 << 20
	DefaultMaxRecordBytes    = 16 << 20
	DefaultFetchMaxBytes     = 50 << 20
	DefaultSessionTimeout    = 45 * time.Second
	DefaultHeartbeatInterval = 3 * time.Second
	DefaultRebalanceTimeout  = time.Minute
	DefaultMetadataMaxAge    = time.Minute
)

// SetDefaults sets the defaults.
func (c *Config) SetDefaults() {
	c.Group, c.ClientID, c.StartAt, c.Isolation = DefaultGroup, "capstan", "earliest", "read_committed"
	c.MaxPollRecords, c.BatchBytes, c.MaxRecordBytes, c.FetchMaxBytes = DefaultMaxPollRecords, DefaultBatchBytes, DefaultMaxRecordBytes, DefaultFetchMaxBytes
	c.SessionTimeout, c.HeartbeatInterval, c.RebalanceTimeout = DefaultSessionTimeout, DefaultHeartbeatInterval, DefaultRebalanceTimeout
	c.MetadataMaxAge = DefaultMetadataMaxAge
}

// Validate checks every key; paths are relative to the input's section.
func (c *Config) Validate() error {
	var e conf.Errors
	kafkaconf.CheckBrokers(&e, c.Brokers)
	switch {
	case len(c.Topics) == 0 && c.TopicsRegex == "":
		e.Add("topics", "missing: give topics, or topics_regex")
	case len(c.Topics) > 0 && c.TopicsRegex != "":
		e.Add("topics_regex", "give topics or topics_regex, not both")
	}
	for i, t := range c.Topics {
		if err := checkTopic(t); err != nil {
			e.Add(conf.Index("topics", i), "%v", err)
		}
	}
	e.Unique("topics", c.Topics, "topic")
	if c.TopicsRegex != "" {
		e.Regexp("topics_regex", c.TopicsRegex)
	}
	e.Required("group", c.Group, "the consumer group the input joins")
	if c.InstanceID != "" && strings.TrimSpace(c.InstanceID) != c.InstanceID {
		e.Add("instance_id", "%q has leading or trailing spaces", c.InstanceID)
	}
	e.OneOf("start_at", c.StartAt, "earliest", "latest")
	e.OneOf("isolation", c.Isolation, "read_committed", "read_uncommitted")
	e.Range("max_poll_records", int64(c.MaxPollRecords), 1, 1_000_000)
	e.Range("batch_bytes", int64(c.BatchBytes), 1<<10, 32<<20)
	e.Range("max_record_bytes", int64(c.MaxRecordBytes), 1, 32<<20)
	e.Range("fetch_max_bytes", int64(c.FetchMaxBytes), 1<<10, 1<<30)
	if e.Positive("session_timeout", int64(c.SessionTimeout)) && e.Positive("heartbeat_interval", int64(c.HeartbeatInterval)) &&
		c.HeartbeatInterval >= c.SessionTimeout {
		e.Add("heartbeat_interval", "must be shorter than session_timeout (%s)", c.SessionTimeout)
	}
	e.Positive("rebalance_timeout", int64(c.RebalanceTimeout))
	if e.Positive("metadata_max_age", int64(c.MetadataMaxAge)) && c.MetadataMaxAge < 100*time.Millisecond {
		e.Add("metadata_max_age", "must be at least 100ms")
	}
	if c.TLS != nil {
		e.Merge("tls", c.TLS.Validate())
	}
	if c.SASL != nil {
		e.Merge("sasl", c.SASL.Validate())
	}
	return e.Err()
}

// brokers is every broker of every entry (after Validate).
func (c *Config) brokers() []string { return kafkaconf.Brokers(c.Brokers) }

// checkTopic applies Kafka's rule for topic names: 1 to 249 of [a-zA-Z0-9._-],
// not "." or "..".
func checkTopic(t string) error {
	if t == "" || len(t) > 249 || t == "." || t == ".." {
		return fmt.Errorf("%q is not a Kafka topic name (1 to 249 of a-z A-Z 0-9 . _ -)", t)
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("%q is not a Kafka topic name (1 to 249 of a-z A-Z 0-9 . _ -)", t)
		}
	}
	return nil
}
