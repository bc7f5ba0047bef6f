package lines

import (
	"time"

	"github.com/capstan-agent/capstan/component"
	"github.com/capstan-agent/capstan/component/conf"
	"github.com/capstan-agent/capstan/component/tlsconf"
	"github.com/capstan-agent/capstan/shipper/delivery"
)

// StdoutConfig configures the stdout output: records printed on standard
// output, one line each.
type StdoutConfig struct {
	Encoding        Format `koanf:"encoding" enum:"raw,ndjson"`
	delivery.Config `koanf:",squash"`
}

// SetDefaults sets the defaults (after the engine's).
func (c *StdoutConfig) SetDefaults() { c.Encoding = Raw }

// Validate checks the configuration.
func (c *StdoutConfig) Validate() error {
	var e conf.Errors
	e.OneOf("encoding", string(c.Encoding), string(Raw), string(NDJSON))
	e.Merge("", c.Config.Validate())
	return e.Err()
}

// FileConfig configures the file output: lines appended to a file, rotated
// by size, exactly once across kill -9.
type FileConfig struct {
	Encoding Format `koanf:"encoding" enum:"raw,ndjson"`
	// Path of the file written; rotated files are Path.1 (newest) .. Path.N.
	Path string `koanf:"path"`
	// MaxBytes rotates the file before a write would take it past this size.
	MaxBytes conf.Size `koanf:"max_bytes"`
	// MaxFiles is how many rotated files are kept.
	MaxFiles        int `koanf:"max_files"`
	delivery.Config `koanf:",squash"`
}

// SetDefaults sets the defaults (after the engine's).
func (c *FileConfig) SetDefaults() { c.Encoding, c.MaxBytes, c.MaxFiles = Raw, 100<<20, 5 }

// Validate checks the configuration.
func (c *FileConfig) Validate() error {
	var e conf.Errors
	e.OneOf("encoding", string(c.Encoding), string(Raw), string(NDJSON))
	e.Required("path", c.Path, "give the file to write")
	e.Positive("max_bytes", int64(c.MaxBytes))
	e.Range("max_files", int64(c.MaxFiles), 1, 1000)
	e.Merge("", c.Config.Validate())
	if c.DeadLetter.Path != "" && c.DeadLetter.Path == c.Path {
		e.Add("dead_letter.path", "is the output's own path")
	}
	return e.Err()
}

// Files says which files the output writes (the agent refuses an output
// that writes into a file input's globs, or two outputs on one file).
func (c *FileConfig) Files() (reads, writes []string) {
	_, dl := c.Config.Files()
	return nil, append([]string{c.Path}, dl...)
}

// Framings of the tcp output.
const (
	FramingNewline       = "newline"
	FramingOctetCounting = "octet_counting"
)

// TCPConfig configures the tcp output: lines to a TCP peer.
type TCPConfig struct {
	Encoding Format `koanf:"encoding" enum:"raw,ndjson"`
	// Framing: newline (a line per record) or octet_counting (RFC 6587:
	// "LEN SP MSG", for syslog receivers).
	Framing string `koanf:"framing" enum:"newline,octet_counting"`
	// Address of the peer, host:port.
	Address string `koanf:"address"`
	// ConnectTimeout bounds a connection attempt (and the TLS handshake).
	ConnectTimeout time.Duration `koanf:"connect_timeout"`
	// Timeout breaks a connection on which a write or an acknowledgement
	// makes no progress for this long.
	Timeout time.Duration `koanf:"timeout"`
	// Concurrency is how many requests are written ahead of the oldest
	// one the peer has not acknowledged.
	Concurrency     int             `koanf:"concurrency"`
	TLS             *tlsconf.Client `koanf:"tls"`
	delivery.Config `koanf:",squash"`
}

// SetDefaults sets the defaults (after the engine's).
func (c *TCPConfig) SetDefaults() {
	c.Encoding, c.Framing, c.ConnectTimeout, c.Timeout, c.Concurrency = Raw, FramingNewline, 5*time.Second, 30*time.Second, 2
}

// Validate checks the configuration.
func (c *TCPConfig) Validate() error {
	var e conf.Errors
	e.OneOf("encoding", string(c.Encoding), string(Raw), string(NDJSON))
	e.OneOf("framing", c.Framing, FramingNewline, FramingOctetCounting)
	if e.Required("address", c.Address, "give the host:port to send lines to") {
		e.HostPort("address", c.Address, false)
	}
	e.Positive("connect_timeout", int64(c.ConnectTimeout))
	e.NotNegative("timeout", int64(c.Timeout))
	e.Range("concurrency", int64(c.Concurrency), 1, 64)
	if c.TLS != nil {
		e.Merge("tls", c.TLS.Validate())
	}
	e.Merge("", c.Config.Validate())
	return e.Err()
}

func newConfig[C any, P interface {
	*C
	component.Config
}]() P {
	c := P(new(C))
	conf.ApplyDefaults(c)
	return c
}

// StdoutFactory makes stdout outputs writing to out (os.Stdout when nil).
func StdoutFactory(out writer) component.OutputFactory {
	return component.NewOutputFactory("stdout", newConfig[StdoutConfig], func(set component.Settings, c *StdoutConfig) (component.Output, error) {
		return NewStdout(set, c, out)
	})
}

// FileFactory makes file outputs.
func FileFactory() component.OutputFactory {
	return component.NewOutputFactory("file", newConfig[FileConfig], func(set component.Settings, c *FileConfig) (component.Output, error) {
		return NewFile(set, c)
	})
}

// TCPFactory makes tcp outputs.
func TCPFactory() component.OutputFactory {
	return component.NewOutputFactory("tcp", newConfig[TCPConfig], func(set component.Settings, c *TCPConfig) (component.Output, error) {
		return NewTCP(set, c)
	})
}
