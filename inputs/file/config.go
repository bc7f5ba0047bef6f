package file

import (
	"errors"
	"fmt"
	"time"

	"github.com/capstan-agent/capstan/component/conf"
	"github.com/capstan-agent/capstan/inputs/file/format"
)

var errRelative = errors.New("pattern must be an absolute path")

// Config configures a file input: the keys under inputs.NAME with
// type: file. Zero values take the defaults of Defaults (the agent decodes
// into a Config with them applied); Validate reports every bad key with its
// path.
type Config struct {
	// Name is the input's name (the key under inputs: in the agent's
	// configuration); it names the positions file and is in every batch.
	Name string `koanf:"-"`
	// Include lists absolute glob patterns of files to tail; "**" matches
	// any number of directories. Symlinks are followed.
	Include []string `koanf:"include"`
	// Exclude lists patterns of files not to tail, matched on the path found.
	Exclude []string `koanf:"exclude"`
	// StartAt is where files found by the first scan, with no position, are
	// read from: "beginning" or "end". Files that appear later are always read
	// from the beginning, so nothing written after start-up is missed.
	StartAt string `koanf:"start_at" enum:"beginning,end"`
	// Format is raw, json, docker or cri.
	Format    string           `koanf:"format" enum:"raw,json,docker,cri"`
	Multiline *MultilineConfig `koanf:"multiline"`
	// MaxLineBytes bounds a record: longer lines are cut there, the rest is
	// skipped up to the next newline, and the cut is counted.
	MaxLineBytes conf.Size `koanf:"max_line_bytes"`
	// ReadBufferBytes is the size of the one read buffer shared by all files.
	ReadBufferBytes conf.Size `koanf:"read_buffer_bytes"`
	// FingerprintBytes is how many leading bytes identify a file's content.
	FingerprintBytes int `koanf:"fingerprint_bytes"`
	// ScanInterval is how often the globs are walked and every file is
	// stat'ed, whatever fsnotify says (events get lost; NFS sends none).
	ScanInterval time.Duration `koanf:"scan_interval"`
	// PollInterval is how often open files are checked for growth without
	// an event.
	PollInterval time.Duration `koanf:"poll_interval"`
	// MaxOpenFiles bounds open descriptors; files take turns beyond it.
	MaxOpenFiles int `koanf:"max_open_files"`
	// CloseInactive closes a file that has not grown for this long; it is
	// reopened when it changes.
	CloseInactive time.Duration `koanf:"close_inactive"`
	// RotateWait keeps a file that was renamed away or deleted open until it
	// has not grown for this long (writers keep writing to it for a while).
	RotateWait time.Duration `koanf:"rotate_wait"`
	// ForgetAfter drops the position of a file gone for this long.
	ForgetAfter time.Duration `koanf:"forget_after"`
	// PositionsInterval is how often positions are written when changed.
	PositionsInterval time.Duration `koanf:"positions_interval"`
}

// MultilineConfig groups lines into records by a start pattern.
type MultilineConfig struct {
	// StartPattern is a regular expression; a line matching it begins a
	// record, other lines continue the current one. Empty = off.
	StartPattern string `koanf:"start_pattern"`
	// FlushTimeout emits a record that has had no continuation this long.
	FlushTimeout time.Duration `koanf:"flush_timeout"`
}

// Limits a batch imposes: a batch holds one read buffer of lines plus what
// decoders flush (up to four records of max_line_bytes) under the 64 MiB
// batch limit.
const (
	MaxLineBytesLimit    = 8 << 20
	ReadBufferBytesLimit = 16 << 20
	maxFingerprintBytes  = 1 << 20
)

// Defaults returns cfg with its zero values replaced by the defaults: the
// one place the file input's defaults live.
func Defaults(cfg Config) Config {
	set := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	seti := func(i *int, v int) {
		if *i == 0 {
			*i = v
		}
	}
	sets := func(i *conf.Size, v conf.Size) {
		if *i == 0 {
			*i = v
		}
	}
	if cfg.StartAt == "" {
		cfg.StartAt = "end"
	}
	if cfg.Format == "" {
		cfg.Format = "raw"
	}
	sets(&cfg.MaxLineBytes, 1<<20)
	sets(&cfg.ReadBufferBytes, 2<<20)
	seti(&cfg.FingerprintBytes, 1024)
	seti(&cfg.MaxOpenFiles, 1024)
	set(&cfg.ScanInterval, 10*time.Second)
	set(&cfg.PollInterval, 250*time.Millisecond)
	set(&cfg.CloseInactive, 5*time.Minute)
	set(&cfg.RotateWait, 5*time.Second)
	set(&cfg.ForgetAfter, 24*time.Hour)
	set(&cfg.PositionsInterval, time.Second)
	if cfg.Multiline != nil {
		m := *cfg.Multiline
		set(&m.FlushTimeout, defaultFlushTimeout)
		cfg.Multiline = &m
	}
	return cfg
}

// SetDefaults sets the defaults (for the agent's decoder).
func (c *Config) SetDefaults() { *c = Defaults(*c) }

// SetDefaults sets the defaults of a multiline section.
func (m *MultilineConfig) SetDefaults() { m.FlushTimeout = defaultFlushTimeout }

const defaultFlushTimeout = 5 * time.Second

// readBuffer is the read buffer's size: raised to a line and 64 KiB more
// when it is not larger than a line.
func (c *Config) readBuffer() int {
	if c.ReadBufferBytes <= c.MaxLineBytes {
		return int(c.MaxLineBytes) + 64<<10
	}
	return int(c.ReadBufferBytes)
}

// Validate checks a configuration (defaults applied or not) and returns
// every problem with its key path.
func (c *Config) Validate() error {
	d := Defaults(*c)
	var e conf.Errors
	if len(d.Include) == 0 {
		e.Add("include", "missing: give at least one absolute glob of files to tail")
	}
	for _, list := range []struct {
		key   string
		globs []string
	}{{"include", d.Include}, {"exclude", d.Exclude}} {
		for i, p := range list.globs {
			if _, err := compileGlob(p); err != nil {
				if errors.Is(err, errRelative) {
					e.Add(conf.Index(list.key, i), "%q is not an absolute path (the agent's working directory is not a place to rely on)", p)
				} else {
					e.Add(conf.Index(list.key, i), "bad glob %q: %v", p, err)
				}
			}
		}
	}
	e.OneOf("start_at", d.StartAt, "beginning", "end")
	if _, err := format.ParseKind(d.Format); err != nil {
		e.Add("format", "%v", err)
	}
	if m := d.Multiline; m != nil {
		if m.StartPattern == "" {
			e.Add("multiline.start_pattern", "missing: multiline needs a regular expression that starts a record")
		} else {
			e.Regexp("multiline.start_pattern", m.StartPattern)
		}
		e.NotNegative("multiline.flush_timeout", int64(m.FlushTimeout))
	}
	for _, v := range []struct {
		key string
		n   int64
	}{
		{"max_line_bytes", int64(d.MaxLineBytes)}, {"read_buffer_bytes", int64(d.ReadBufferBytes)},
		{"fingerprint_bytes", int64(d.FingerprintBytes)}, {"max_open_files", int64(d.MaxOpenFiles)},
		{"scan_interval", int64(d.ScanInterval)}, {"poll_interval", int64(d.PollInterval)},
		{"close_inactive", int64(d.CloseInactive)}, {"rotate_wait", int64(d.RotateWait)},
		{"forget_after", int64(d.ForgetAfter)}, {"positions_interval", int64(d.PositionsInterval)},
	} {
		e.Positive(v.key, v.n)
	}
	e.AtMost("max_line_bytes", int64(d.MaxLineBytes), MaxLineBytesLimit, conf.SizeString)
	e.AtMost("read_buffer_bytes", int64(d.ReadBufferBytes), ReadBufferBytesLimit, conf.SizeString)
	e.AtMost("fingerprint_bytes", int64(d.FingerprintBytes), maxFingerprintBytes, func(n int64) string { return fmt.Sprint(n) })
	return e.Err()
}

// Files are the globs the input reads, for the agent's loop check.
func (c *Config) Files() (reads, writes []string) { return c.Include, nil }

// RecordFields are the record attributes the input sets itself: the
// container runtime's stream (docker, cri) and json_error.
func (c *Config) RecordFields() []string { return []string{"stream", "json_error"} }
