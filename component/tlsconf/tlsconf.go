package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"

	"github.com/capstan-agent/capstan/component/conf"
)

// Server is TLS for a listener; ClientCAFile turns on mTLS.
type Server struct {
	CertFile     string `koanf:"cert_file"`
	KeyFile      string `koanf:"key_file"`
	ClientCAFile string `koanf:"client_ca_file"`
	MinVersion   string `koanf:"min_version" enum:"1.2,1.3"`
}

// SetDefaults sets the defaults.
func (t *Server) SetDefaults() { t.MinVersion = "1.2" }

// Validate checks that both files are given and each is readable PEM of the
// right kind.
func (t *Server) Validate() error {
	var e conf.Errors
	if e.Required("cert_file", t.CertFile, "a TLS listener needs a certificate (PEM)") {
		e.PEM("cert_file", t.CertFile, "CERTIFICATE")
	}
	if e.Required("key_file", t.KeyFile, "a TLS listener needs a private key (PEM)") {
		e.PEM("key_file", t.KeyFile, "*PRIVATE KEY")
	}
	e.PEM("client_ca_file", t.ClientCAFile, "CERTIFICATE")
	e.OneOf("min_version", t.MinVersion, "1.2", "1.3")
	return e.Err()
}

// Config loads the files into a tls.Config; errors name the key.
func (t *Server) Config() (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("tls.cert_file, tls.key_file: %w", err)
	}
	c := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: version(t.MinVersion)}
	if t.ClientCAFile != "" {
		pool, err := loadPool(t.ClientCAFile)
		if err != nil {
			return nil, fmt.Errorf("tls.client_ca_file: %w", err)
		}
		c.ClientCAs, c.ClientAuth = pool, tls.RequireAndVerifyClientCert
	}
	return c, nil
}

// Client is TLS for a connection to a peer; CertFile and KeyFile for mTLS.
type Client struct {
	CAFile             string `koanf:"ca_file"`
	CertFile           string `koanf:"cert_file"`
	KeyFile            string `koanf:"key_file"`
	ServerName         string `koanf:"server_name"`
	InsecureSkipVerify bool   `koanf:"insecure_skip_verify"`
	MinVersion         string `koanf:"min_version" enum:"1.2,1.3"`
}

// SetDefaults sets the defaults.
func (t *Client) SetDefaults() { t.MinVersion = "1.2" }

// Validate checks the files: readable PEM of the right kind, the client
// pair given together.
func (t *Client) Validate() error {
	var e conf.Errors
	if (t.CertFile == "") != (t.KeyFile == "") {
		e.Add("", "cert_file and key_file go together (both for mTLS, or neither)")
	}
	e.PEM("ca_file", t.CAFile, "CERTIFICATE")
	e.PEM("cert_file", t.CertFile, "CERTIFICATE")
	e.PEM("key_file", t.KeyFile, "*PRIVATE KEY")
	e.OneOf("min_version", t.MinVersion, "1.2", "1.3")
	return e.Err()
}

// Config loads the files into a tls.Config for connections to host (the
// name verified when server_name is not set).
func (t *Client) Config(host string) (*tls.Config, error) {
	c := &tls.Config{ServerName: t.ServerName, InsecureSkipVerify: t.InsecureSkipVerify, MinVersion: version(t.MinVersion)}
	if c.ServerName == "" {
		c.ServerName = host
	}
	if t.CAFile != "" {
		pool, err := loadPool(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("tls.ca_file: %w", err)
		}
		c.RootCAs = pool
	}
	if t.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("tls.cert_file, tls.key_file: %w", err)
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c, nil
}

func loadPool(file string) (*x509.CertPool, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%s: no certificates", file)
	}
	return pool, nil
}

func version(v string) uint16 {
	if v == "1.3" {
		return tls.VersionTLS13
	}
	return tls.VersionTLS12
}
