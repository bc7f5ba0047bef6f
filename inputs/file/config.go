package file

import (
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/capstan-agent/capstan/inputs/file/format"
)

var errRelative = errors.New("pattern must be an absolute path")

// Config configures a file input. Zero values take the defaults of
// Defaults; Validate reports the first bad key by its name.
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
	StartAt string `koanf:"start_at"`
	// Format is raw, json, docker or cri.
	Format    string          `koanf:"format"`
	Multiline MultilineConfig `koanf:"multiline"`
	// MaxLineBytes bounds a record: longer lines are cut there, the rest is
	// skipped up to the next newline, and the cut is counted.
	MaxLineBytes int `koanf:"max_line_bytes"`
	// ReadBufferBytes is the size of the one read buffer shared by all files.
	ReadBufferBytes int `koanf:"read_buffer_bytes"`
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

// Defaults returns cfg with its zero values replaced by the defaults.
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
	if cfg.StartAt == "" {
		cfg.StartAt = "beginning"
	}
	if cfg.Format == "" {
		cfg.Format = "raw"
	}
	seti(&cfg.MaxLineBytes, 1<<20)
	seti(&cfg.ReadBufferBytes, 1<<20)
	seti(&cfg.FingerprintBytes, 1024)
	seti(&cfg.MaxOpenFiles, 1024)
	set(&cfg.ScanInterval, 10*time.Second)
	set(&cfg.PollInterval, 250*time.Millisecond)
	set(&cfg.CloseInactive, 5*time.Minute)
	set(&cfg.RotateWait, 5*time.Second)
	set(&cfg.ForgetAfter, 24*time.Hour)
	set(&cfg.PositionsInterval, time.Second)
	set(&cfg.Multiline.FlushTimeout, 5*time.Second)
	if cfg.ReadBufferBytes <= cfg.MaxLineBytes {
		cfg.ReadBufferBytes = cfg.MaxLineBytes + 64<<10
	}
	return cfg
}

// Validate checks a configuration (defaults applied or not).
func (c Config) Validate() error {
	c = Defaults(c)
	if c.Name == "" {
		return errors.New("name: must not be empty")
	}
	if len(c.Include) == 0 {
		return errors.New("include: at least one pattern is needed")
	}
	for i, p := range c.Include {
		if _, err := compileGlob(p); err != nil {
			return fmt.Errorf("include[%d] %q: %w", i, p, err)
		}
	}
	for i, p := range c.Exclude {
		if _, err := compileGlob(p); err != nil {
			return fmt.Errorf("exclude[%d] %q: %w", i, p, err)
		}
	}
	if c.StartAt != "beginning" && c.StartAt != "end" {
		return fmt.Errorf("start_at: %q, want beginning or end", c.StartAt)
	}
	if _, err := format.ParseKind(c.Format); err != nil {
		return err
	}
	if c.Multiline.StartPattern != "" {
		if _, err := regexp.Compile(c.Multiline.StartPattern); err != nil {
			return fmt.Errorf("multiline.start_pattern: %w", err)
		}
	}
	for _, v := range []struct {
		key string
		n   int64
	}{
		{"max_line_bytes", int64(c.MaxLineBytes)}, {"read_buffer_bytes", int64(c.ReadBufferBytes)},
		{"fingerprint_bytes", int64(c.FingerprintBytes)}, {"max_open_files", int64(c.MaxOpenFiles)},
		{"scan_interval", int64(c.ScanInterval)}, {"poll_interval", int64(c.PollInterval)},
		{"close_inactive", int64(c.CloseInactive)}, {"rotate_wait", int64(c.RotateWait)},
		{"forget_after", int64(c.ForgetAfter)}, {"positions_interval", int64(c.PositionsInterval)},
		{"multiline.flush_timeout", int64(c.Multiline.FlushTimeout)},
	} {
		if v.n < 0 {
			return fmt.Errorf("%s: must not be negative", v.key)
		}
	}
	// A batch holds one read buffer of lines plus what decoders flush (up to
	// four records of max_line_bytes): keep it under the 64 MiB batch limit.
	if c.MaxLineBytes > 8<<20 {
		return fmt.Errorf("max_line_bytes: %d is over 8 MiB", c.MaxLineBytes)
	}
	if c.ReadBufferBytes > 16<<20 {
		return fmt.Errorf("read_buffer_bytes: %d is over 16 MiB", c.ReadBufferBytes)
	}
	return nil
}
