package config

import (
	"os"
	"path/filepath"
)

// Config is the whole configuration of an agent. Field tags name the YAML keys;
// `enum` lists the values a string key accepts. Defaults live in the defaults
// methods below and in Default; docs/configuration.md documents every key.
type Config struct {
	DataDir       string             `koanf:"data_dir"`
	Log           Log                `koanf:"log"`
	HTTP          HTTP               `koanf:"http"`
	Spool         Spool              `koanf:"spool"`
	Streams       map[string]Stream  `koanf:"streams"`
	Inputs        map[string]*Input  `koanf:"inputs"`
	Outputs       map[string]*Output `koanf:"outputs"`
	ShutdownGrace Duration           `koanf:"shutdown_grace"`
}

// Log configures the agent's own logs.
type Log struct {
	Level  string `koanf:"level" enum:"debug,info,warn,error"`
	Format string `koanf:"format" enum:"json,console"`
}

// HTTP configures the health, readiness and metrics server.
type HTTP struct {
	Address string `koanf:"address"` // empty: no server
	Pprof   bool   `koanf:"pprof"`
}

// Spool configures the on-disk spool shared by all streams.
type Spool struct {
	SegmentBytes  Size     `koanf:"segment_bytes"`
	SegmentAge    Duration `koanf:"segment_age"`
	IndexInterval Size     `koanf:"index_interval"`
	Fsync         string   `koanf:"fsync" enum:"never,interval,always"`
	FsyncInterval Duration `koanf:"fsync_interval"`
}

// Stream configures one named stream of the spool.
type Stream struct {
	Partitions int      `koanf:"partitions"`
	MaxBytes   Size     `koanf:"max_bytes"`
	MaxAge     Duration `koanf:"max_age"`
	WhenFull   string   `koanf:"when_full" enum:"block,drop_oldest"`
}

// DefaultStream is the stream inputs write to and outputs read when they name
// none; it exists without being declared.
const DefaultStream = "default"

func (c *Config) defaults() {
	c.ShutdownGrace = Duration(30e9)
}

func (l *Log) defaults() { l.Level, l.Format = "info", "json" }

func (h *HTTP) defaults() { h.Address = "127.0.0.1:5171" }

func (s *Spool) defaults() {
	s.SegmentBytes = 64 << 20
	s.SegmentAge = Duration(3600e9)
	s.IndexInterval = 64 << 10
	s.Fsync = "interval"
	s.FsyncInterval = Duration(1e9)
}

func (s *Stream) defaults() {
	s.Partitions = 1
	s.WhenFull = "block"
}

// DefaultDataDir is where the spool lives when data_dir is not set:
// $XDG_STATE_HOME/capstan, else ./capstan-data.
func DefaultDataDir(getenv func(string) string) string {
	if getenv == nil {
		getenv = os.Getenv
	}
	if x := getenv("XDG_STATE_HOME"); x != "" {
		return filepath.Join(x, "capstan")
	}
	return "capstan-data"
}

// Default is the configuration with every default applied and nothing
// declared: no inputs, no outputs.
func Default() *Config {
	c := &Config{}
	applyDefaults(reflectValue(c))
	c.DataDir = DefaultDataDir(nil)
	return c
}
