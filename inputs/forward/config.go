package forward

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/capstan-agent/capstan/spool/batch"
	"github.com/capstan-agent/capstan/spool/protocol"
)

// Config configures a forward input. Zero values mean defaults.
type Config struct {
	// Name is the input's name, for logs.
	Name string `koanf:"-"`
	// Address to listen on, host:port.
	Address string `koanf:"address"`
	// Token, when set, must be presented by every client.
	Token string `koanf:"token"`
	// TLS, when CertFile is set, serves TLS; with ClientCAFile, mTLS.
	TLS TLSConfig `koanf:"tls"`
	// MaxFrameBytes is the largest frame accepted, header included. Default:
	// room for the largest batch (64 MiB) plus headers.
	MaxFrameBytes int `koanf:"max_frame_bytes"`
	// WindowBytes is how many DATA bytes a client may keep unacknowledged.
	// Default 8 MiB.
	WindowBytes int `koanf:"window_bytes"`
	// Heartbeat is the interval announced to clients; a connection silent for
	// three intervals is closed. Default 5s.
	Heartbeat time.Duration `koanf:"heartbeat"`
	// MaxConnections bounds concurrent clients; more are refused. Default 1024.
	MaxConnections int `koanf:"max_connections"`

	// tlsConfig, when set, is used instead of loading TLS.
	tlsConfig *tls.Config
}

// TLSConfig names PEM files.
type TLSConfig struct {
	CertFile     string `koanf:"cert_file"`
	KeyFile      string `koanf:"key_file"`
	ClientCAFile string `koanf:"client_ca_file"` // set: clients must present a certificate it signed
}

// Defaults, in one place.
const (
	DefaultMaxFrameBytes  = batch.MaxBatchSize + protocol.MinMaxFrame
	DefaultWindowBytes    = 8 << 20
	DefaultHeartbeat      = 5 * time.Second
	DefaultMaxConnections = 1024
)

// withDefaults returns cfg with defaults filled in.
func (cfg Config) withDefaults() Config {
	if cfg.MaxFrameBytes == 0 {
		cfg.MaxFrameBytes = DefaultMaxFrameBytes
	}
	if cfg.WindowBytes == 0 {
		cfg.WindowBytes = DefaultWindowBytes
	}
	if cfg.Heartbeat == 0 {
		cfg.Heartbeat = DefaultHeartbeat
	}
	if cfg.MaxConnections == 0 {
		cfg.MaxConnections = DefaultMaxConnections
	}
	return cfg
}

// Validate checks the configuration.
func (cfg Config) Validate() error {
	c := cfg.withDefaults()
	var errs []error
	if c.Address == "" {
		errs = append(errs, errors.New("address: required"))
	}
	if c.MaxFrameBytes < protocol.MinMaxFrame || c.MaxFrameBytes > 1<<31-1 {
		errs = append(errs, fmt.Errorf("max_frame_bytes %d: want %d..%d", c.MaxFrameBytes, protocol.MinMaxFrame, 1<<31-1))
	}
	if c.WindowBytes < 1 || c.WindowBytes > 1<<31-1 {
		errs = append(errs, fmt.Errorf("window_bytes %d: want 1..%d", c.WindowBytes, 1<<31-1))
	}
	if c.Heartbeat < 10*time.Millisecond || c.Heartbeat > time.Hour {
		errs = append(errs, fmt.Errorf("heartbeat %s: want 10ms..1h", c.Heartbeat))
	}
	if c.MaxConnections < 1 {
		errs = append(errs, fmt.Errorf("max_connections %d: want at least 1", c.MaxConnections))
	}
	if len(c.Token) > protocol.MaxTokenLen {
		errs = append(errs, fmt.Errorf("token: at most %d bytes", protocol.MaxTokenLen))
	}
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		errs = append(errs, errors.New("tls: cert_file and key_file go together"))
	}
	if c.TLS.ClientCAFile != "" && c.TLS.CertFile == "" {
		errs = append(errs, errors.New("tls.client_ca_file: needs cert_file and key_file"))
	}
	return errors.Join(errs...)
}

// tlsConfig loads the TLS files, or returns nil for plain TCP.
func (t TLSConfig) tlsConfig() (*tls.Config, error) {
	if t.CertFile == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("tls: load key pair: %w", err)
	}
	c := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if t.ClientCAFile != "" {
		pem, err := os.ReadFile(t.ClientCAFile)
		if err != nil {
			return nil, fmt.Errorf("tls: read client CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls: %s: no certificates", t.ClientCAFile)
		}
		c.ClientCAs, c.ClientAuth = pool, tls.RequireAndVerifyClientCert
	}
	return c, nil
}
