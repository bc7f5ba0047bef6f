package kafka

import (
	"strings"
	"time"

	"github.com/capstan-agent/capstan/component/conf"
	"github.com/capstan-agent/capstan/component/kafkaconf"
	"github.com/capstan-agent/capstan/component/tlsconf"
	"github.com/capstan-agent/capstan/shipper/delivery"
)

// Value encodings.
const (
	EncodingJSON = "json" // the record as capstan's JSON object (delivery.AppendJSON)
	EncodingRaw  = "raw"  // the body as it is
)

// Compression codecs of produced batches.
const (
	CompressionNone   = "none"
	CompressionGzip   = "gzip"
	CompressionSnappy = "snappy"
	CompressionLZ4    = "lz4"
	CompressionZstd   = "zstd"
)

// Config is the kafka output's YAML: the keys under outputs.NAME with
// type: kafka.
type Config struct {
	// Brokers are the seed brokers, host:port.
	Brokers []string `koanf:"brokers"`
	// Topic is the topic records go to; ${name} takes a record's field.
	Topic string `koanf:"topic"`
	// Key is the field whose value is the record key (one source, one
	// Kafka partition); "" sends records without a key.
	Key string `koanf:"key"`
	// Headers are the fields (names, or prefixes ending in '*') sent as
	// record headers.
	Headers     []string `koanf:"headers"`
	Encoding    string   `koanf:"encoding" enum:"json,raw"`
	Compression string   `koanf:"compression" enum:"none,gzip,snappy,lz4,zstd"`
	// ExactlyOnce writes through a transactional producer that commits the
	// spool offsets in each transaction.
	ExactlyOnce        bool          `koanf:"exactly_once"`
	TransactionTimeout time.Duration `koanf:"transaction_timeout"`
	// MaxMessageBytes bounds one record (and one produced batch); a
	// larger record goes to the dead letter.
	MaxMessageBytes conf.Size       `koanf:"max_message_bytes"`
	ClientID        string          `koanf:"client_id"`
	TLS             *tlsconf.Client `koanf:"tls"`
	SASL            *kafkaconf.SASL `koanf:"sasl"`
	// Timeout bounds one request, from producing it to its acknowledgement.
	Timeout        time.Duration `koanf:"timeout"`
	ConnectTimeout time.Duration `koanf:"connect_timeout"`
	// Concurrency is how many requests may be in flight at once (each
	// partition of the spool has at most one).
	Concurrency     int `koanf:"concurrency"`
	delivery.Config `koanf:",squash"`
}

// SetDefaults sets the defaults (after the engine's).
func (c *Config) SetDefaults() {
	c.Encoding, c.Compression = EncodingJSON, CompressionNone
	c.TransactionTimeout = time.Minute
	c.MaxMessageBytes = 1 << 20
	c.ClientID = "capstan"
	c.Timeout, c.ConnectTimeout, c.Concurrency = 30*time.Second, 10*time.Second, 4
}

// Validate checks every key.
func (c *Config) Validate() error {
	var e conf.Errors
	kafkaconf.CheckBrokers(&e, c.Brokers)
	if e.Required("topic", c.Topic, "the topic to write to, e.g. logs or logs-${k8s.namespace.name}") {
		if _, err := parseTopic(c.Topic); err != nil {
			e.Add("topic", "%q: %v", c.Topic, err)
		}
	}
	if strings.ContainsAny(c.Key, "${}") {
		e.Add("key", "%q: give a field name (key: k8s.pod.name), not a template", c.Key)
	}
	for i, n := range c.Headers {
		if n == "" || strings.Contains(strings.TrimSuffix(n, "*"), "*") {
			e.Add(conf.Index("headers", i), "%q: give a field name, or a prefix ending in *", n)
		}
	}
	e.OneOf("encoding", c.Encoding, EncodingJSON, EncodingRaw)
	e.OneOf("compression", c.Compression, CompressionNone, CompressionGzip, CompressionSnappy, CompressionLZ4, CompressionZstd)
	if c.ExactlyOnce {
		if d := c.TransactionTimeout; d < time.Second || d > 15*time.Minute {
			e.Add("transaction_timeout", "%s: must be between 1s and 15m (Kafka's transaction.max.timeout.ms is 15m by default)", conf.Duration(d))
		}
	}
	e.Range("max_message_bytes", int64(c.MaxMessageBytes), 1<<10, 256<<20)
	e.Required("client_id", c.ClientID, "the client id brokers log, e.g. capstan")
	if c.TLS != nil {
		e.Merge("tls", c.TLS.Validate())
	}
	if c.SASL != nil {
		e.Merge("sasl", c.SASL.Validate())
	}
	e.Positive("timeout", int64(c.Timeout))
	e.Positive("connect_timeout", int64(c.ConnectTimeout))
	e.Range("concurrency", int64(c.Concurrency), 1, 256)
	e.Merge("", c.Config.Validate())
	return e.Err()
}
