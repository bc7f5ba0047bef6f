package socket

import (
	"crypto/tls"

	"errors"
	"fmt"
	"github.com/capstan-agent/capstan/spool/batch"
	"strconv"
	"time"

	"github.com/capstan-agent/capstan/inputs/socket/framing"
)

// Config is one socket input. Defaults live in withDefaults.
type Config struct {
	// Name is the input's name, kept as the source attribute "input".
	Name string `koanf:"-"`
	// Type is the agent's input type (tcp, udp, unix, unixgram): the scheme
	// of addresses written without one.
	Type string `koanf:"type"`
	// Addresses to listen on: tcp://host:port, udp://host:port,
	// unix:///path (stream) or unixgram:///path (datagram).
	Addresses []string `koanf:"addresses"`
	// Format is raw (the default: each message is a record body, JSON lines
	// included), syslog (RFC 5424 or RFC 3164, told apart per message),
	// rfc5424 or rfc3164.
	Format string `koanf:"format"`
	// Framing of stream sockets: auto (default), newline or octet_counting.
	Framing string `koanf:"framing"`
	// MaxMessageBytes cuts longer messages (counted, flagged); default 64 KiB.
	MaxMessageBytes int `koanf:"max_message_bytes"`
	// MaxConnections bounds open stream connections across all addresses;
	// default 4096. Connections over it are closed at once and counted.
	MaxConnections int `koanf:"max_connections"`
	// IdleTimeout closes a stream connection that sent nothing for this
	// long; 0 (default) keeps it.
	IdleTimeout time.Duration `koanf:"idle_timeout"`
	// SocketMode is the permission of unix socket files, octal; default "0666"
	// like /dev/log.
	SocketMode string `koanf:"socket_mode"`
	// ReceiveBufferBytes sets SO_RCVBUF of datagram sockets and accepted
	// stream connections; 0 keeps the system default (and TCP autotuning).
	ReceiveBufferBytes int `koanf:"receive_buffer_bytes"`
	// BatchBytes is the batch size that triggers an append; default 1 MiB.
	BatchBytes int `koanf:"batch_bytes"`
	// Linger is the longest a record waits for its batch to fill; default 5ms.
	Linger time.Duration `koanf:"linger"`
	// FlushTimeout bounds the final appends on shutdown when the spool is
	// full; default 5s.
	FlushTimeout time.Duration `koanf:"flush_timeout"`
	// Timezone of RFC 3164 timestamps (IANA name); default the local zone.
	Timezone string `koanf:"timezone"`
	// TLS, when set, makes tcp:// addresses TLS listeners.
	TLS *TLSConfig `koanf:"tls"`
	// Attributes are static source attributes every batch carries after
	// the input's name.
	Attributes []batch.Attr `koanf:"-"`
}

// TLSConfig is TLS for TCP listeners. Certificate files are re-read when
// they change, so a renewed certificate needs no restart.
type TLSConfig struct {
	CertFile     string `koanf:"cert_file"`
	KeyFile      string `koanf:"key_file"`
	ClientCAFile string `koanf:"client_ca_file"` // set: clients must present a certificate it signed
	MinVersion   string `koanf:"min_version"`    // "1.2" (default) or "1.3"
	// HandshakeTimeout closes connections that do not finish the handshake
	// in time; default 10s.
	HandshakeTimeout time.Duration `koanf:"handshake_timeout"`
}

type format uint8

const (
	formatRaw format = iota
	formatSyslog
	formatRFC5424
	formatRFC3164
)

func parseFormat(s string) (format, error) {
	switch s {
	case "", "raw":
		return formatRaw, nil
	case "syslog":
		return formatSyslog, nil
	case "rfc5424":
		return formatRFC5424, nil
	case "rfc3164":
		return formatRFC3164, nil
	}
	return 0, fmt.Errorf("format %q: want raw, syslog, rfc5424 or rfc3164", s)
}

func (c Config) withDefaults() Config {
	if c.MaxMessageBytes == 0 {
		c.MaxMessageBytes = 64 << 10
	}
	if c.MaxConnections == 0 {
		c.MaxConnections = DefaultMaxConnections
	}
	if c.SocketMode == "" {
		c.SocketMode = "0666"
	}
	if c.BatchBytes == 0 {
		c.BatchBytes = 1 << 20
	}
	if c.Linger == 0 {
		c.Linger = DefaultLinger
	}
	if c.FlushTimeout == 0 {
		c.FlushTimeout = 5 * time.Second
	}
	if c.TLS != nil {
		t := *c.TLS
		if t.HandshakeTimeout == 0 {
			t.HandshakeTimeout = 10 * time.Second
		}
		if t.MinVersion == "" {
			t.MinVersion = "1.2"
		}
		c.TLS = &t
	}
	return c
}

// Validate checks the configuration, defaults applied; errors name the key.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	if len(c.Addresses) == 0 {
		errs = append(errs, errors.New("addresses: at least one is needed"))
	}
	for i, a := range c.Addresses {
		if _, err := parseAddress(a, c.Type); err != nil {
			errs = append(errs, fmt.Errorf("addresses[%d]: %w", i, err))
		}
	}
	if _, err := parseFormat(c.Format); err != nil {
		errs = append(errs, err)
	}
	if _, err := framing.ParseMode(c.Framing); err != nil {
		errs = append(errs, err)
	}
	if c.MaxMessageBytes < 1 || c.MaxMessageBytes > 16<<20 {
		errs = append(errs, fmt.Errorf("max_message_bytes %d: want 1 to 16 MiB", c.MaxMessageBytes))
	}
	if c.MaxConnections < 1 {
		errs = append(errs, fmt.Errorf("max_connections %d: want at least 1", c.MaxConnections))
	}
	if c.IdleTimeout < 0 || c.Linger < 0 || c.FlushTimeout < 0 {
		errs = append(errs, errors.New("idle_timeout, linger, flush_timeout: must not be negative"))
	}
	if c.BatchBytes < 1024 || c.BatchBytes > 32<<20 {
		errs = append(errs, fmt.Errorf("batch_bytes %d: want 1 KiB to 32 MiB", c.BatchBytes))
	}
	if m, err := strconv.ParseUint(c.SocketMode, 8, 32); err != nil || m > 0o777 {
		errs = append(errs, fmt.Errorf("socket_mode %q: want an octal mode like \"0660\"", c.SocketMode))
	}
	if c.Timezone != "" {
		if _, err := time.LoadLocation(c.Timezone); err != nil {
			errs = append(errs, fmt.Errorf("timezone: %w", err))
		}
	}
	if t := c.TLS; t != nil {
		if t.CertFile == "" || t.KeyFile == "" {
			errs = append(errs, errors.New("tls: cert_file and key_file are both needed"))
		}
		if _, err := tlsVersion(t.MinVersion); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func tlsVersion(s string) (uint16, error) {
	switch s {
	case "1.2":
		return tls.VersionTLS12, nil
	case "1.3":
		return tls.VersionTLS13, nil
	}
	return 0, fmt.Errorf("tls.min_version %q: want 1.2 or 1.3", s)
}
