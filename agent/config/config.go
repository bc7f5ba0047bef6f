package config

import (
	"os"
	"path/filepath"

	"github.com/capstan-agent/capstan/component"
	"github.com/capstan-agent/capstan/component/conf"
	"github.com/capstan-agent/capstan/inputs/process"
)

// Config is the whole configuration of an agent. Field tags name the YAML
// keys; `enum` lists the values a string key accepts. The keys of each input
// and output type are its package's Config (component.Config), decoded into
// Input.Settings and Output.Settings. docs/configuration.md documents every key.
type Config struct {
	DataDir       string             `koanf:"data_dir"`
	Log           Log                `koanf:"log"`
	HTTP          HTTP               `koanf:"http"`
	Spool         Spool              `koanf:"spool"`
	Streams       map[string]Stream  `koanf:"streams"`
	Attributes    map[string]string  `koanf:"attributes"`
	Inputs        map[string]*Input  `koanf:"inputs"`
	Outputs       map[string]*Output `koanf:"outputs"`
	ShutdownGrace conf.Duration      `koanf:"shutdown_grace"`
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
	SegmentBytes  conf.Size     `koanf:"segment_bytes"`
	SegmentAge    conf.Duration `koanf:"segment_age"`
	IndexInterval conf.Size     `koanf:"index_interval"`
	Fsync         string        `koanf:"fsync" enum:"never,interval,always"`
	FsyncInterval conf.Duration `koanf:"fsync_interval"`
}

// Stream configures one named stream of the spool.
type Stream struct {
	Partitions int           `koanf:"partitions"`
	MaxBytes   conf.Size     `koanf:"max_bytes"`
	MaxAge     conf.Duration `koanf:"max_age"`
	WhenFull   string        `koanf:"when_full" enum:"block,drop_oldest"`
}

// Input is one entry of inputs: the keys every input has, and its type's
// own Config.
type Input struct {
	Type   string `koanf:"type"`
	Stream string `koanf:"stream"`
	// Attributes are static source attributes of this input's batches,
	// over the top-level ones; a value "" removes an inherited one.
	Attributes map[string]string `koanf:"attributes"`
	// Processors run on the input's records before they are appended:
	// docs/processors.md.
	Processors []Processor      `koanf:"processors"`
	Settings   component.Config `koanf:"-"`
}

// Processor is one item of an input's processors list: its type, and the
// type's own Config.
type Processor struct {
	Type   string         `koanf:"type"`
	Config process.Config `koanf:"-"`
}

// Output is one entry of outputs: the keys every output has, and its type's
// own Config.
type Output struct {
	Type     string           `koanf:"type"`
	Streams  []string         `koanf:"streams"` // empty: every stream
	StartAt  string           `koanf:"start_at" enum:"oldest,newest"`
	Settings component.Config `koanf:"-"`
}

// DefaultStream is the stream inputs write to and outputs read when they name
// none; it exists without being declared.
const DefaultStream = "default"

// HostNameAttribute is the source attribute naming the agent's host (the
// OpenTelemetry semantic-convention name).
const HostNameAttribute = "host.name"

// SetDefaults sets the top-level defaults.
func (c *Config) SetDefaults() {
	c.ShutdownGrace = conf.Duration(30e9)
	c.Attributes = map[string]string{}
	if h, err := os.Hostname(); err == nil && h != "" {
		c.Attributes[HostNameAttribute] = h
	}
}

// SetDefaults sets the defaults of log.
func (l *Log) SetDefaults() { l.Level, l.Format = "info", "json" }

// SetDefaults sets the defaults of http.
func (h *HTTP) SetDefaults() { h.Address = "127.0.0.1:5171" }

// SetDefaults sets the defaults of spool.
func (s *Spool) SetDefaults() {
	s.SegmentBytes = 64 << 20
	s.SegmentAge = conf.Duration(3600e9)
	s.IndexInterval = 64 << 10
	s.Fsync = "interval"
	s.FsyncInterval = conf.Duration(1e9)
}

// SetDefaults sets the defaults of a stream.
func (s *Stream) SetDefaults() {
	s.Partitions = 1
	s.WhenFull = "block"
}

// SetDefaults sets the defaults of an input's common keys.
func (in *Input) SetDefaults() { in.Stream = DefaultStream }

// SetDefaults sets the defaults of an output's common keys.
func (o *Output) SetDefaults() { o.StartAt = "oldest" }

// SourceAttributes are the static source attributes of an input: the
// top-level ones with the input's own over them, those set to "" removed.
func (c *Config) SourceAttributes(in *Input) map[string]string {
	out := map[string]string{}
	for k, v := range c.Attributes {
		out[k] = v
	}
	for k, v := range in.Attributes {
		out[k] = v
	}
	for k, v := range out {
		if v == "" {
			delete(out, k)
		}
	}
	return out
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
	conf.ApplyDefaults(c)
	c.DataDir = DefaultDataDir(nil)
	return c
}
