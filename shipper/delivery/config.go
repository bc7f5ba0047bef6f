package delivery

import (
	"path/filepath"
	"time"

	"github.com/capstan-agent/capstan/component/conf"
)

// Config holds the engine's keys, squashed into an output type's Config:
// batch, retry, dead_letter and drain_timeout. An output type's
// SetDefaults may change the defaults after this one's.
type Config struct {
	Batch        Batch         `koanf:"batch"`
	Retry        RetryConfig   `koanf:"retry"`
	DeadLetter   DeadLetter    `koanf:"dead_letter"`
	DrainTimeout time.Duration `koanf:"drain_timeout"`
}

// Batch says when a request is sent.
type Batch struct {
	// MaxBytes: a request is sent once its body holds this many bytes (it
	// may pass it by one record).
	MaxBytes conf.Size `koanf:"max_bytes"`
	// MaxRecords: … or this many records.
	MaxRecords int `koanf:"max_records"`
	// Linger: … or once its first record has waited this long; 0 sends as
	// soon as the output has read everything spooled.
	Linger time.Duration `koanf:"linger"`
}

// RetryConfig paces the attempts of a request that failed.
type RetryConfig struct {
	Initial time.Duration `koanf:"initial"`
	Max     time.Duration `koanf:"max"`
	// MaxAttempts gives up after this many sends of a request (its records
	// go to the dead letter); 0 retries forever.
	MaxAttempts int `koanf:"max_attempts"`
}

// DeadLetter is where records the destination refused for good go: a
// stream of the spool, or an NDJSON file. Neither set: they are counted and
// logged, and dropped.
type DeadLetter struct {
	Stream string `koanf:"stream"`
	Path   string `koanf:"path"`
}

// Defaults of the engine's keys.
const (
	DefaultMaxBytes     = 1 << 20
	DefaultMaxRecords   = 10000
	DefaultRetryInitial = 100 * time.Millisecond
	DefaultRetryMax     = 5 * time.Second
	DefaultDrainTimeout = 5 * time.Second
	// MaxRequestBytes bounds batch.max_bytes.
	MaxRequestBytes = 256 << 20
)

// SetDefaults sets the defaults of batch.
func (b *Batch) SetDefaults() { b.MaxBytes, b.MaxRecords = DefaultMaxBytes, DefaultMaxRecords }

// SetDefaults sets the defaults of retry.
func (r *RetryConfig) SetDefaults() { r.Initial, r.Max = DefaultRetryInitial, DefaultRetryMax }

// SetDefaults sets the engine's defaults.
func (c *Config) SetDefaults() {
	c.Batch.SetDefaults()
	c.Retry.SetDefaults()
	c.DrainTimeout = DefaultDrainTimeout
}

// Validate checks the engine's keys; paths are relative to the output.
func (c *Config) Validate() error {
	var e conf.Errors
	e.Range("batch.max_bytes", int64(c.Batch.MaxBytes), 1, MaxRequestBytes)
	e.Range("batch.max_records", int64(c.Batch.MaxRecords), 1, 1<<20)
	e.NotNegative("batch.linger", int64(c.Batch.Linger))
	if e.Positive("retry.initial", int64(c.Retry.Initial)) && c.Retry.Max < c.Retry.Initial {
		e.Add("retry.max", "must be at least retry.initial (%s)", conf.Duration(c.Retry.Initial))
	}
	e.NotNegative("retry.max_attempts", int64(c.Retry.MaxAttempts))
	e.NotNegative("drain_timeout", int64(c.DrainTimeout))
	if c.DeadLetter.Stream != "" && c.DeadLetter.Path != "" {
		e.Add("dead_letter", "give stream or path, not both")
	}
	if s := c.DeadLetter.Stream; s != "" && !conf.ValidName(s) {
		e.Add("dead_letter.stream", "%q is not a stream name (letters, digits, '_' and '-')", s)
	}
	if p := c.DeadLetter.Path; p != "" && !filepath.IsAbs(p) {
		e.Add("dead_letter.path", "%q is not an absolute path", p)
	}
	return e.Err()
}

// DeadLetterStream is the stream dead letters go to, "" for none (the
// agent checks that it is declared and not read by the output itself).
func (c *Config) DeadLetterStream() string { return c.DeadLetter.Stream }

// Files lists the dead-letter file, which the output writes.
func (c *Config) Files() (reads, writes []string) {
	if c.DeadLetter.Path != "" {
		writes = []string{c.DeadLetter.Path}
	}
	return nil, writes
}

// Options are the engine's settings for one output: its Config and what
// the output type fixes.
type Options struct {
	Config
	// Concurrency is how many requests may be in flight at once (at least
	// 1). With a Streamer it is how many requests are written ahead of the
	// oldest unacknowledged one.
	Concurrency int
	// Ordered sends a key's requests one at a time per partition, in order
	// (a request waits until the one before it is acknowledged or
	// dead-lettered): for destinations that refuse records older than what
	// they hold (Loki streams).
	Ordered bool
	// OrderedInFlight is, with Ordered, how many of a key's requests may
	// be in flight at once per partition (0 or 1: one at a time). A
	// request goes while others of its key are out only if its newest
	// record's timestamp is at most OrderedSpan after the oldest record's
	// of those: whichever lands first, a destination that takes records
	// out of order within a window longer than OrderedSpan (Loki's
	// out-of-order window) takes them all, as it would in order.
	OrderedInFlight int
	OrderedSpan     time.Duration
	// Timeout bounds one Send (0: none); a send that runs out is retried.
	Timeout time.Duration
	// SyncInterval is how often checkpoints and the Syncer are made
	// durable; default 1s.
	SyncInterval time.Duration
}

func (o Options) withDefaults() Options {
	if o.Batch.MaxBytes <= 0 {
		o.Batch.MaxBytes = DefaultMaxBytes
	}
	if o.Batch.MaxRecords <= 0 {
		o.Batch.MaxRecords = DefaultMaxRecords
	}
	if o.Retry.Initial <= 0 {
		o.Retry.Initial = DefaultRetryInitial
	}
	if o.Retry.Max < o.Retry.Initial {
		o.Retry.Max = max(DefaultRetryMax, o.Retry.Initial)
	}
	if o.Concurrency < 1 {
		o.Concurrency = 1
	}
	if o.SyncInterval <= 0 {
		o.SyncInterval = time.Second
	}
	return o
}
