package lines

import (
	"time"

	"github.com/capstan-agent/capstan/component"
	"github.com/capstan-agent/capstan/component/conf"
)

// StdoutConfig configures the stdout output: records printed on standard
// output, one line each.
type StdoutConfig struct {
	Encoding Format `koanf:"encoding" enum:"raw,ndjson"`
}

// SetDefaults sets the defaults.
func (c *StdoutConfig) SetDefaults() { c.Encoding = Raw }

// Validate checks the configuration.
func (c *StdoutConfig) Validate() error {
	var e conf.Errors
	e.OneOf("encoding", string(c.Encoding), string(Raw), string(NDJSON))
	return e.Err()
}

// FileConfig configures the file output: lines appended to a file, rotated
// by size.
type FileConfig struct {
	Encoding Format `koanf:"encoding" enum:"raw,ndjson"`
	// Path of the file written; rotated files are Path.1 (newest) .. Path.N.
	Path string `koanf:"path"`
	// MaxBytes rotates the file before a write would take it past this size.
	MaxBytes conf.Size `koanf:"max_bytes"`
	// MaxFiles is how many rotated files are kept.
	MaxFiles int `koanf:"max_files"`
}

// SetDefaults sets the defaults.
func (c *FileConfig) SetDefaults() { c.Encoding, c.MaxBytes, c.MaxFiles = Raw, 100<<20, 5 }

// Validate checks the configuration.
func (c *FileConfig) Validate() error {
	var e conf.Errors
	e.OneOf("encoding", string(c.Encoding), string(Raw), string(NDJSON))
	e.Required("path", c.Path, "give the file to write")
	e.Positive("max_bytes", int64(c.MaxBytes))
	e.Positive("max_files", int64(c.MaxFiles))
	return e.Err()
}

// Files says which file the output writes (the agent refuses an output that
// writes into a file input's globs, or two outputs on one file).
func (c *FileConfig) Files() (reads, writes []string) { return nil, []string{c.Path} }

// TCPConfig configures the tcp output: lines to a TCP peer.
type TCPConfig struct {
	Encoding Format `koanf:"encoding" enum:"raw,ndjson"`
	// Address of the peer, host:port.
	Address string `koanf:"address"`
	// ConnectTimeout bounds a connection attempt.
	ConnectTimeout time.Duration `koanf:"connect_timeout"`
}

// SetDefaults sets the defaults.
func (c *TCPConfig) SetDefaults() { c.Encoding, c.ConnectTimeout = Raw, 5*time.Second }

// Validate checks the configuration.
func (c *TCPConfig) Validate() error {
	var e conf.Errors
	e.OneOf("encoding", string(c.Encoding), string(Raw), string(NDJSON))
	if e.Required("address", c.Address, "give the host:port to send lines to") {
		e.HostPort("address", c.Address, false)
	}
	e.Positive("connect_timeout", int64(c.ConnectTimeout))
	return e.Err()
}

func newConfig[C any, P interface {
	*C
	conf.Defaulter
}]() P {
	c := P(new(C))
	c.SetDefaults()
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
	return component.NewOutputFactory("file", newConfig[FileConfig], NewFile)
}

// TCPFactory makes tcp outputs.
func TCPFactory() component.OutputFactory {
	return component.NewOutputFactory("tcp", newConfig[TCPConfig], NewTCP)
}
