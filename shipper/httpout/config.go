package httpout

import (
	"strings"
	"time"

	"github.com/capstan-agent/capstan/component/conf"
	"github.com/capstan-agent/capstan/component/tlsconf"
	"github.com/capstan-agent/capstan/shipper/delivery"
	"github.com/capstan-agent/capstan/shipper/httpc"
)

// Encodings of a request body.
const (
	NDJSON    = "ndjson"     // a line of capstan's NDJSON per record
	JSONArray = "json_array" // one JSON array of those objects
	Raw       = "raw"        // the bodies, a line each
)

// Config is the http output's YAML: the keys under outputs.NAME with
// type: http.
type Config struct {
	// URL is where requests go; it may take a record's fields (${name}).
	URL    string `koanf:"url"`
	Method string `koanf:"method" enum:"POST,PUT"`
	// Encoding of the body; ContentType overrides the one it implies.
	Encoding    string `koanf:"encoding" enum:"ndjson,json_array,raw"`
	ContentType string `koanf:"content_type"`
	// Headers are sent with every request; values may take fields too.
	Headers     map[string]string `koanf:"headers"`
	Auth        *httpc.Auth       `koanf:"auth"`
	Compression string            `koanf:"compression" enum:"none,gzip,zstd"`
	TLS         *tlsconf.Client   `koanf:"tls"`
	// Timeout bounds one request, from sending it to its answer.
	Timeout        time.Duration `koanf:"timeout"`
	ConnectTimeout time.Duration `koanf:"connect_timeout"`
	// Concurrency is how many requests may be in flight at once.
	Concurrency     int `koanf:"concurrency"`
	delivery.Config `koanf:",squash"`
}

// SetDefaults sets the defaults (after the engine's).
func (c *Config) SetDefaults() {
	c.Method, c.Encoding, c.Compression = "POST", NDJSON, httpc.None
	c.Timeout, c.ConnectTimeout, c.Concurrency = 30*time.Second, 5*time.Second, 4
}

// Validate checks every key.
func (c *Config) Validate() error {
	var e conf.Errors
	if e.Required("url", c.URL, "the URL to send records to") {
		if t, err := parseTemplate(c.URL); err != nil {
			e.Add("url", "%v", err)
		} else if u, ok := e.URL("url", string(t.expand(nil, placeholders(t), appendRaw)), "http", "https"); ok {
			if c.TLS != nil && u.Scheme == "http" {
				e.Add("tls", "the url is http://, which does not use TLS: write https://")
			}
		}
	}
	e.OneOf("method", c.Method, "POST", "PUT")
	e.OneOf("encoding", c.Encoding, NDJSON, JSONArray, Raw)
	e.OneOf("compression", c.Compression, httpc.None, httpc.Gzip, httpc.Zstd)
	if strings.ContainsAny(c.ContentType, "\r\n") {
		e.Add("content_type", "may not hold a line break")
	}
	httpc.ValidateHeaders(&e, "headers", c.Headers, "content-type", "content-encoding", "content-length")
	for k, v := range c.Headers {
		if _, err := parseTemplate(v); err != nil {
			e.Add(conf.Join("headers", k), "%v", err)
		}
	}
	if c.Auth != nil {
		e.Merge("auth", c.Auth.Validate())
	}
	if c.TLS != nil {
		e.Merge("tls", c.TLS.Validate())
	}
	e.Positive("timeout", int64(c.Timeout))
	e.Positive("connect_timeout", int64(c.ConnectTimeout))
	e.Range("concurrency", int64(c.Concurrency), 1, 256)
	e.Merge("", c.Config.Validate())
	return e.Err()
}

// placeholders stand for a template's fields when its shape is checked.
func placeholders(t template) [][]byte {
	out := make([][]byte, len(t.refs()))
	for i := range out {
		out[i] = []byte("x")
	}
	return out
}

func appendRaw(dst, v []byte) []byte { return append(dst, v...) }
