package otlp

import (
	"net/url"
	"strings"
	"time"

	"github.com/capstan-agent/capstan/component/conf"
	"github.com/capstan-agent/capstan/component/tlsconf"
	"github.com/capstan-agent/capstan/shipper/delivery"
	"github.com/capstan-agent/capstan/shipper/httpc"
)

// Protocols and encodings.
const (
	ProtocolHTTP     = "http"
	ProtocolGRPC     = "grpc"
	EncodingProtobuf = "protobuf"
	EncodingJSON     = "json"
)

// LogsPath is what OTLP/HTTP appends to an endpoint.
const LogsPath = "/v1/logs"

// DefaultResourceAttributes are the source attributes that make a record's
// Resource by default: the semantic conventions' names of the host, the
// Kubernetes objects, the container, the service, the cloud, and the file
// a record was read from.
var DefaultResourceAttributes = []string{"host.*", "k8s.*", "container.*", "service.*", "cloud.*", "deployment.*", "log.file.path"}

// DefaultSeverityFrom are the attributes a severity is read from: syslog's
// (the socket inputs' severity) and a parsed level field.
var DefaultSeverityFrom = []string{"severity", "level"}

// Config is the otlp output's YAML: the keys under outputs.NAME with
// type: otlp.
type Config struct {
	// Endpoint is the destination: for HTTP the base URL that /v1/logs is
	// appended to, for gRPC http://host:port (plain) or https://host:port.
	Endpoint string `koanf:"endpoint"`
	// LogsEndpoint is the whole URL of OTLP/HTTP logs, as it is.
	LogsEndpoint string            `koanf:"logs_endpoint"`
	Protocol     string            `koanf:"protocol" enum:"http,grpc"`
	Encoding     string            `koanf:"encoding" enum:"protobuf,json"`
	Compression  string            `koanf:"compression" enum:"gzip,zstd,none"`
	Headers      map[string]string `koanf:"headers"`
	Auth         *httpc.Auth       `koanf:"auth"`
	TLS          *tlsconf.Client   `koanf:"tls"`
	// Timeout bounds one request, from sending it to its answer.
	Timeout        time.Duration `koanf:"timeout"`
	ConnectTimeout time.Duration `koanf:"connect_timeout"`
	// Concurrency is how many requests may be in flight at once.
	Concurrency int `koanf:"concurrency"`
	// ResourceAttributes are the source attributes that make the Resource
	// (names, or prefixes ending in '*'); the others are attributes of
	// each LogRecord.
	ResourceAttributes []string `koanf:"resource_attributes"`
	// SeverityFrom are the attributes a record's severity is read from.
	SeverityFrom []string `koanf:"severity_from"`
	// RecordUID adds log.record.uid.
	RecordUID       bool `koanf:"record_uid"`
	delivery.Config `koanf:",squash"`
}

// SetDefaults sets the defaults (after the engine's).
func (c *Config) SetDefaults() {
	c.Protocol, c.Encoding, c.Compression = ProtocolHTTP, EncodingProtobuf, httpc.Gzip
	c.Timeout, c.ConnectTimeout, c.Concurrency = 30*time.Second, 5*time.Second, 4
	c.ResourceAttributes = append([]string(nil), DefaultResourceAttributes...)
	c.SeverityFrom = append([]string(nil), DefaultSeverityFrom...)
	c.RecordUID = true
}

// Validate checks every key.
func (c *Config) Validate() error {
	var e conf.Errors
	e.OneOf("protocol", c.Protocol, ProtocolHTTP, ProtocolGRPC)
	e.OneOf("encoding", c.Encoding, EncodingProtobuf, EncodingJSON)
	e.OneOf("compression", c.Compression, httpc.Gzip, httpc.Zstd, httpc.None)
	if _, ok := c.url(&e); ok {
		if c.TLS != nil && c.scheme() == "http" {
			e.Add("tls", "the endpoint is http://, which does not use TLS: write https://")
		}
	}
	if c.Protocol == ProtocolGRPC && c.Encoding == EncodingJSON {
		e.Add("encoding", "OTLP/gRPC is protobuf only; json is for protocol: http")
	}
	httpc.ValidateHeaders(&e, "headers", c.Headers, "content-type", "content-encoding", "content-length")
	if c.Auth != nil {
		e.Merge("auth", c.Auth.Validate())
	}
	if c.TLS != nil {
		e.Merge("tls", c.TLS.Validate())
	}
	e.Positive("timeout", int64(c.Timeout))
	e.Positive("connect_timeout", int64(c.ConnectTimeout))
	e.Range("concurrency", int64(c.Concurrency), 1, 256)
	for i, n := range c.ResourceAttributes {
		if n == "" || strings.Contains(strings.TrimSuffix(n, "*"), "*") {
			e.Add(conf.Index("resource_attributes", i), "%q: give a name, or a prefix ending in *", n)
		}
	}
	for i, n := range c.SeverityFrom {
		e.Required(conf.Index("severity_from", i), n, "an attribute name")
	}
	e.Merge("", c.Config.Validate())
	return e.Err()
}

func (c *Config) scheme() string {
	s := c.Endpoint
	if c.LogsEndpoint != "" {
		s = c.LogsEndpoint
	}
	u, err := url.Parse(s)
	if err != nil {
		return ""
	}
	return u.Scheme
}

// url checks the endpoint keys and returns where requests go: the logs URL
// for HTTP, host:port for gRPC.
func (c *Config) url(e *conf.Errors) (string, bool) {
	if c.Protocol == ProtocolGRPC {
		if c.LogsEndpoint != "" {
			e.Add("logs_endpoint", "is for protocol: http; give endpoint: http(s)://host:port")
			return "", false
		}
		if !e.Required("endpoint", c.Endpoint, "the collector's URL, e.g. http://collector:4317") {
			return "", false
		}
		u, ok := e.URL("endpoint", c.Endpoint, "http", "https")
		if !ok {
			return "", false
		}
		if u.Path != "" && u.Path != "/" || u.RawQuery != "" {
			e.Add("endpoint", "%q: an OTLP/gRPC endpoint is http(s)://host:port, without a path", c.Endpoint)
			return "", false
		}
		switch {
		case u.Port() != "":
			return u.Host, true
		case u.Scheme == "https":
			return u.Host + ":443", true
		}
		e.Add("endpoint", "%q: give the port (OTLP/gRPC listens on 4317 by default)", c.Endpoint)
		return "", false
	}
	if c.LogsEndpoint != "" {
		if c.Endpoint != "" {
			e.Add("logs_endpoint", "give endpoint or logs_endpoint, not both")
			return "", false
		}
		u, ok := e.URL("logs_endpoint", c.LogsEndpoint, "http", "https")
		if !ok {
			return "", false
		}
		return u.String(), true
	}
	if !e.Required("endpoint", c.Endpoint, "the collector's URL, e.g. http://collector:4318") {
		return "", false
	}
	u, ok := e.URL("endpoint", c.Endpoint, "http", "https")
	if !ok {
		return "", false
	}
	if u.RawQuery != "" {
		e.Add("endpoint", "%q: /v1/logs is appended to the endpoint; give a URL with a query as logs_endpoint", c.Endpoint)
		return "", false
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + LogsPath
	return u.String(), true
}
