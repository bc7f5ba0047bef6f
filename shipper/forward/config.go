package forward

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/capstan-agent/capstan/shipper"
	"github.com/capstan-agent/capstan/spool/protocol"
)

// Config configures a forward output. Zero values mean defaults.
type Config struct {
	// Name is the output's name: its checkpoint consumer name and log field.
	Name string `koanf:"-"`
	// Endpoints are the peers, host:port. Partitions are spread over them
	// (one connection each, see Connections); a connection whose endpoint is
	// down fails over to the next one.
	Endpoints []string `koanf:"endpoints"`
	// Token is presented in the hello when set.
	Token string `koanf:"token"`
	// TLS wraps connections when Enabled; sendfile is then not used.
	TLS TLSConfig `koanf:"tls"`
	// StartAt is where a partition never shipped before starts.
	StartAt shipper.StartAt `koanf:"start_at"`
	// FrameBytes is the payload a DATA frame aims at (a frame holds at least
	// one whole batch). Default 1 MiB.
	FrameBytes int `koanf:"frame_bytes"`
	// Connections is how many connections share the partitions. Default: one
	// per endpoint.
	Connections int `koanf:"connections"`
	// DialTimeout bounds a connect and the hello exchange. Default 5s.
	DialTimeout time.Duration `koanf:"dial_timeout"`
	// BackoffInitial and BackoffMax bound the jittered exponential wait
	// between reconnects, which go on forever. Defaults 100ms and 5s.
	BackoffInitial time.Duration `koanf:"backoff_initial"`
	BackoffMax     time.Duration `koanf:"backoff_max"`
	// DrainTimeout is how long Run waits, once cancelled, for frames in
	// flight to be acknowledged. Default 5s.
	DrainTimeout time.Duration `koanf:"drain_timeout"`
	// DisableSendfile sends plain TCP through buffers too (for benchmarks and
	// file systems without sendfile).
	DisableSendfile bool `koanf:"disable_sendfile"`

	// tlsConfig, when set, is used instead of TLS.
	tlsConfig *tls.Config
}

// TLSConfig configures the client side of TLS.
type TLSConfig struct {
	Enabled            bool   `koanf:"enabled"`
	CAFile             string `koanf:"ca_file"`   // default: system roots
	CertFile           string `koanf:"cert_file"` // with KeyFile: client certificate (mTLS)
	KeyFile            string `koanf:"key_file"`
	ServerName         string `koanf:"server_name"`
	InsecureSkipVerify bool   `koanf:"insecure_skip_verify"`
}

// Defaults, in one place.
const (
	DefaultFrameBytes     = 1 << 20
	DefaultDialTimeout    = 5 * time.Second
	DefaultBackoffInitial = 100 * time.Millisecond
	DefaultBackoffMax     = 5 * time.Second
	DefaultDrainTimeout   = 5 * time.Second
)

func (cfg Config) withDefaults() Config {
	if cfg.StartAt == "" {
		cfg.StartAt = shipper.StartOldest
	}
	if cfg.FrameBytes == 0 {
		cfg.FrameBytes = DefaultFrameBytes
	}
	if cfg.Connections == 0 {
		cfg.Connections = max(1, len(cfg.Endpoints))
	}
	if cfg.DialTimeout == 0 {
		cfg.DialTimeout = DefaultDialTimeout
	}
	if cfg.BackoffInitial == 0 {
		cfg.BackoffInitial = DefaultBackoffInitial
	}
	if cfg.BackoffMax == 0 {
		cfg.BackoffMax = DefaultBackoffMax
	}
	if cfg.DrainTimeout == 0 {
		cfg.DrainTimeout = DefaultDrainTimeout
	}
	return cfg
}

// Validate checks the configuration.
func (cfg Config) Validate() error {
	c := cfg.withDefaults()
	var errs []error
	if len(c.Endpoints) == 0 {
		errs = append(errs, errors.New("endpoints: at least one required"))
	}
	for i, ep := range c.Endpoints {
		if _, _, err := net.SplitHostPort(ep); err != nil {
			errs = append(errs, fmt.Errorf("endpoints[%d] %q: want host:port", i, ep))
		}
	}
	if len(c.Token) > protocol.MaxTokenLen {
		errs = append(errs, fmt.Errorf("token: at most %d bytes", protocol.MaxTokenLen))
	}
	if err := c.StartAt.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.FrameBytes < 4<<10 || c.FrameBytes > 64<<20 {
		errs = append(errs, fmt.Errorf("frame_bytes %d: want 4KiB..64MiB", c.FrameBytes))
	}
	if c.Connections < 1 || c.Connections > 256 {
		errs = append(errs, fmt.Errorf("connections %d: want 1..256", c.Connections))
	}
	if c.BackoffInitial <= 0 || c.BackoffMax < c.BackoffInitial {
		errs = append(errs, fmt.Errorf("backoff_initial %s, backoff_max %s: want 0 < initial <= max", c.BackoffInitial, c.BackoffMax))
	}
	if c.DialTimeout <= 0 || c.DrainTimeout < 0 {
		errs = append(errs, errors.New("dial_timeout and drain_timeout: want positive durations"))
	}
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		errs = append(errs, errors.New("tls: cert_file and key_file go together"))
	}
	return errors.Join(errs...)
}

func (t TLSConfig) tlsConfig() (*tls.Config, error) {
	if !t.Enabled {
		return nil, nil
	}
	c := &tls.Config{ServerName: t.ServerName, InsecureSkipVerify: t.InsecureSkipVerify, MinVersion: tls.VersionTLS12}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("tls: read CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls: %s: no certificates", t.CAFile)
		}
		c.RootCAs = pool
	}
	if t.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("tls: load client key pair: %w", err)
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c, nil
}
