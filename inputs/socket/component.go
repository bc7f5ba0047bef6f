package socket

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/capstan-agent/capstan/component"
	"github.com/capstan-agent/capstan/component/conf"
	"github.com/capstan-agent/capstan/component/tlsconf"
	"github.com/capstan-agent/capstan/inputs/socket/framing"
)

// The defaults of the YAML keys, shared with the zero values of Config.
const (
	DefaultLinger          = 100 * time.Millisecond
	DefaultMaxConnections  = 1024
	DefaultIdleTimeout     = 5 * time.Minute
	DefaultMaxMessageBytes = 64 << 10
	DefaultBatchBytes      = 1 << 20
	DefaultReadBufferBytes = 4 << 20
)

// Common holds the keys every socket input type has.
type Common struct {
	Listen          []string      `koanf:"listen"`
	Parser          string        `koanf:"parser" enum:"none,syslog,rfc5424,rfc3164"`
	MaxMessageBytes conf.Size     `koanf:"max_message_bytes"`
	BatchBytes      conf.Size     `koanf:"batch_bytes"`
	Linger          time.Duration `koanf:"linger"`
}

// SetDefaults sets the defaults.
func (c *Common) SetDefaults() {
	c.Parser, c.MaxMessageBytes, c.BatchBytes, c.Linger = "none", DefaultMaxMessageBytes, DefaultBatchBytes, DefaultLinger
}

// StreamKeys holds the keys of connection-oriented sockets (tcp, unix).
type StreamKeys struct {
	Framing        string        `koanf:"framing" enum:"auto,newline,octet_counting"`
	MaxConnections int           `koanf:"max_connections"`
	IdleTimeout    time.Duration `koanf:"idle_timeout"`
}

// SetDefaults sets the defaults.
func (s *StreamKeys) SetDefaults() {
	s.Framing, s.MaxConnections, s.IdleTimeout = "auto", DefaultMaxConnections, DefaultIdleTimeout
}

// TCPConfig is a tcp input: messages over TCP, TLS optional.
type TCPConfig struct {
	Common     `koanf:",squash"`
	StreamKeys `koanf:",squash"`
	TLS        *tlsconf.Server `koanf:"tls"`
}

// UDPConfig is a udp input: one message per datagram.
type UDPConfig struct {
	Common          `koanf:",squash"`
	ReadBufferBytes conf.Size `koanf:"read_buffer_bytes"`
}

// SetDefaults sets the defaults.
func (u *UDPConfig) SetDefaults() { u.ReadBufferBytes = DefaultReadBufferBytes }

// UnixConfig is a unix (stream socket) input.
type UnixConfig struct {
	Common     `koanf:",squash"`
	StreamKeys `koanf:",squash"`
	SocketMode conf.FileMode `koanf:"socket_mode"`
}

// SetDefaults sets the defaults.
func (u *UnixConfig) SetDefaults() { u.SocketMode = 0o660 }

// UnixgramConfig is a unixgram (datagram socket) input, like /dev/log.
type UnixgramConfig struct {
	Common          `koanf:",squash"`
	ReadBufferBytes conf.Size     `koanf:"read_buffer_bytes"`
	SocketMode      conf.FileMode `koanf:"socket_mode"`
}

// SetDefaults sets the defaults.
func (u *UnixgramConfig) SetDefaults() {
	u.ReadBufferBytes, u.SocketMode = DefaultReadBufferBytes, 0o666
}

func (c *Common) options(typ string) Config {
	format := c.Parser
	if format == "none" {
		format = "raw"
	}
	return Config{Type: typ, Addresses: c.Listen, Format: format, MaxMessageBytes: int(c.MaxMessageBytes),
		BatchBytes: int(c.BatchBytes), Linger: c.Linger}
}

func (s *StreamKeys) apply(o *Config) {
	o.Framing, o.MaxConnections, o.IdleTimeout = s.Framing, s.MaxConnections, s.IdleTimeout
}

func (c *TCPConfig) options() Config {
	o := c.Common.options("tcp")
	c.StreamKeys.apply(&o)
	if t := c.TLS; t != nil {
		o.TLS = &TLSConfig{CertFile: t.CertFile, KeyFile: t.KeyFile, ClientCAFile: t.ClientCAFile, MinVersion: t.MinVersion}
	}
	return o
}

func (c *UDPConfig) options() Config {
	o := c.Common.options("udp")
	o.ReceiveBufferBytes = int(c.ReadBufferBytes)
	return o
}

func (c *UnixConfig) options() Config {
	o := c.Common.options("unix")
	c.StreamKeys.apply(&o)
	o.SocketMode = c.SocketMode.String()
	return o
}

func (c *UnixgramConfig) options() Config {
	o := c.Common.options("unixgram")
	o.ReceiveBufferBytes = int(c.ReadBufferBytes)
	o.SocketMode = c.SocketMode.String()
	return o
}

// validate checks the keys every type has; network is the listen addresses'.
func (c *Common) validate(e *conf.Errors, network string) {
	if len(c.Listen) == 0 {
		what := "host:port"
		if network == "unix" || network == "unixgram" {
			what = "socket path"
		}
		e.Add("listen", "missing: give at least one %s to listen on", what)
	}
	for i, a := range c.Listen {
		p := conf.Index("listen", i)
		switch network {
		case "tcp", "udp":
			e.HostPort(p, a, true)
		default:
			if _, err := parseAddress(a, network); err != nil {
				e.Add(p, "%v", err)
			}
		}
	}
	e.Unique("listen", c.Listen, "address")
	e.OneOf("parser", c.Parser, "none", "syslog", "rfc5424", "rfc3164")
	e.Range("max_message_bytes", int64(c.MaxMessageBytes), 1, 16<<20)
	e.Range("batch_bytes", int64(c.BatchBytes), 1<<10, 32<<20)
	e.Positive("linger", int64(c.Linger))
}

func (s *StreamKeys) validate(e *conf.Errors) {
	if _, err := framing.ParseMode(s.Framing); err != nil {
		e.Add("framing", "%v", err)
	}
	e.Positive("max_connections", int64(s.MaxConnections))
	e.Positive("idle_timeout", int64(s.IdleTimeout))
}

// Validate checks a tcp input's keys.
func (c *TCPConfig) Validate() error {
	var e conf.Errors
	c.Common.validate(&e, "tcp")
	c.StreamKeys.validate(&e)
	if c.TLS != nil {
		e.Merge("tls", c.TLS.Validate())
	}
	return e.Err()
}

// Validate checks a udp input's keys.
func (c *UDPConfig) Validate() error {
	var e conf.Errors
	c.Common.validate(&e, "udp")
	e.NotNegative("read_buffer_bytes", int64(c.ReadBufferBytes))
	return e.Err()
}

// Validate checks a unix input's keys.
func (c *UnixConfig) Validate() error {
	var e conf.Errors
	c.Common.validate(&e, "unix")
	c.StreamKeys.validate(&e)
	return e.Err()
}

// Validate checks a unixgram input's keys.
func (c *UnixgramConfig) Validate() error {
	var e conf.Errors
	c.Common.validate(&e, "unixgram")
	e.NotNegative("read_buffer_bytes", int64(c.ReadBufferBytes))
	return e.Err()
}

func listeners(network string, addrs []string) []component.Listener {
	out := make([]component.Listener, len(addrs))
	for i, a := range addrs {
		out[i] = component.Listener{Network: network, Address: a, Path: conf.Index("listen", i)}
		if ad, err := parseAddress(a, network); err == nil {
			out[i].Network, out[i].Address = ad.network, ad.addr
		}
	}
	return out
}

// Listeners are the addresses a tcp input binds.
func (c *TCPConfig) Listeners() []component.Listener { return listeners("tcp", c.Listen) }

// Listeners are the addresses a udp input binds.
func (c *UDPConfig) Listeners() []component.Listener { return listeners("udp", c.Listen) }

// Listeners are the sockets a unix input binds.
func (c *UnixConfig) Listeners() []component.Listener { return listeners("unix", c.Listen) }

// Listeners are the sockets a unixgram input binds.
func (c *UnixgramConfig) Listeners() []component.Listener { return listeners("unixgram", c.Listen) }

type optioner interface {
	component.Config
	options() Config
}

func factory[C optioner](typ string, newConfig func() C) component.InputFactory {
	return component.NewInputFactory(typ, newConfig, func(set component.Settings, c C) (component.Input, error) {
		if err := c.Validate(); err != nil {
			return nil, err
		}
		o := c.options()
		o.Name, o.Attributes = set.ID.Name, set.Attributes
		if err := o.Validate(); err != nil {
			return nil, err
		}
		return &socketInput{cfg: o, set: set}, nil
	})
}

func defaults[C any]() *C {
	p := new(C)
	conf.ApplyDefaults(p)
	return p
}

// TCPFactory makes tcp inputs.
func TCPFactory() component.InputFactory { return factory("tcp", defaults[TCPConfig]) }

// UDPFactory makes udp inputs.
func UDPFactory() component.InputFactory { return factory("udp", defaults[UDPConfig]) }

// UnixFactory makes unix inputs.
func UnixFactory() component.InputFactory { return factory("unix", defaults[UnixConfig]) }

// UnixgramFactory makes unixgram inputs.
func UnixgramFactory() component.InputFactory { return factory("unixgram", defaults[UnixgramConfig]) }

// socketInput is the input as the agent runs it: it binds when it runs.
type socketInput struct {
	cfg  Config
	set  component.Settings
	in   atomic.Pointer[Input]
	keep atomic.Bool
}

// Run binds every address (an address in use fails here, before Ready),
// then serves until ctx ends.
func (s *socketInput) Run(ctx context.Context, host component.InputHost) error {
	var parts []Appender
	for _, p := range host.Partitions() {
		parts = append(parts, p)
	}
	inherited, _ := host.Inherited().(*Handoff)
	in, err := NewInheriting(s.cfg, parts, s.set.Logger, inherited)
	if err != nil {
		return err
	}
	s.in.Store(in)
	if s.keep.Load() {
		in.Keep()
	}
	host.Ready()
	return in.Run(ctx)
}

// Keep makes the running input leave its sockets to the next instance when
// it is stopped (component.HandOver).
func (s *socketInput) Keep() {
	s.keep.Store(true)
	if in := s.in.Load(); in != nil {
		in.Keep()
	}
}

// Left is what the input left after Keep and a stop.
func (s *socketInput) Left() component.Inheritance {
	if in := s.in.Load(); in != nil && in.Left() != nil {
		return in.Left()
	}
	return nil
}

// Metrics reports the input's counters in the input vocabulary.
func (s *socketInput) Metrics() []component.Metric {
	in := s.in.Load()
	if in == nil {
		return nil
	}
	st := &in.stats
	ms := []component.Metric{
		component.C("records_total", st.Messages.Load()),
		component.C("bytes_total", st.Bytes.Load()),
		component.C("batches_total", st.Batches.Load()),
		component.C("truncated_records_total", st.Truncated.Load()),
		component.C("parse_errors_total", st.ParseErrors.Load()),
		component.L("dropped_records_total", st.DatagramsDropped.Load(), "spool_behind"),
		component.L("dropped_records_total", st.LostRecords.Load(), "append_failed"),
		component.L("errors_total", st.ReadErrors.Load(), "read"),
		component.L("errors_total", st.AppendErrors.Load(), "append"),
		component.L("errors_total", st.TLSHandshakeErrors.Load(), "tls_handshake"),
	}
	if s.cfg.Type == "tcp" || s.cfg.Type == "unix" {
		ms = append(ms,
			component.G("connections", st.Connections.Load()),
			component.C("connections_accepted_total", st.ConnectionsAccepted.Load()),
			component.L("connections_closed_total", st.ConnectionsRejected.Load(), "max_connections"),
			component.L("connections_closed_total", st.IdleTimeouts.Load(), "idle_timeout"),
		)
	}
	return ms
}

// recordFields are the record attributes a socket input sets: the peer,
// truncation and the syslog fields.
var recordFields = []string{"peer", "truncated", "syslog_error", "facility", "severity", "host", "app", "procid", "msgid", "sd.*"}

// RecordFields are the record attributes a tcp input sets.
func (c *TCPConfig) RecordFields() []string { return recordFields }

// RecordFields are the record attributes a udp input sets.
func (c *UDPConfig) RecordFields() []string { return recordFields }

// RecordFields are the record attributes a unix input sets.
func (c *UnixConfig) RecordFields() []string { return recordFields }

// RecordFields are the record attributes a unixgram input sets.
func (c *UnixgramConfig) RecordFields() []string { return recordFields }
