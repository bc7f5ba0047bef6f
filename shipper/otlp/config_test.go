package otlp

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/capstan-agent/capstan/component/conf"
	"github.com/capstan-agent/capstan/component/tlsconf"
	"github.com/capstan-agent/capstan/shipper/httpc"
)

func TestConfigURL(t *testing.T) {
	for _, tc := range []struct {
		proto, endpoint, logs string
		want                  string
	}{
		{"http", "http://collector:4318", "", "http://collector:4318/v1/logs"},
		{"http", "https://otlp-gateway-prod-eu-west-2.grafana.net/otlp", "", "https://otlp-gateway-prod-eu-west-2.grafana.net/otlp/v1/logs"},
		{"http", "https://otlp.example.com/otlp/", "", "https://otlp.example.com/otlp/v1/logs"},
		{"http", "", "https://ingest.example.com/custom/logs?x=1", "https://ingest.example.com/custom/logs?x=1"},
		{"grpc", "http://collector:4317", "", "collector:4317"},
		{"grpc", "https://otlp.example.com", "", "otlp.example.com:443"},
	} {
		c := &Config{}
		conf.ApplyDefaults(c)
		c.Protocol, c.Endpoint, c.LogsEndpoint = tc.proto, tc.endpoint, tc.logs
		var e conf.Errors
		got, ok := c.url(&e)
		if !ok || got != tc.want {
			t.Errorf("%s %q %q: %q (%v), want %q", tc.proto, tc.endpoint, tc.logs, got, e, tc.want)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "nope.pem")
	tokenFile := filepath.Join(dir, "token")
	os.WriteFile(tokenFile, []byte("t\n"), 0o600)
	for _, tc := range []struct {
		name string
		set  func(c *Config)
		want string // "" for valid
	}{
		{"defaults with an endpoint", func(c *Config) {}, ""},
		{"no endpoint", func(c *Config) { c.Endpoint = "" }, "endpoint: missing: the collector's URL"},
		{"no scheme", func(c *Config) { c.Endpoint = "collector:4318" }, `endpoint: "collector:4318": want a URL starting with http:// or https://`},
		{"unknown encoding", func(c *Config) { c.Encoding = "protojson" }, `encoding: "protojson" is not one of protobuf, json`},
		{"unknown compression", func(c *Config) { c.Compression = "lz4" }, `compression: "lz4" is not one of gzip, zstd, none`},
		{"unknown protocol", func(c *Config) { c.Protocol = "grcp" }, `protocol: "grcp" is not one of http, grpc`},
		{"json over grpc", func(c *Config) { c.Protocol, c.Endpoint, c.Encoding = "grpc", "http://c:4317", "json" }, "encoding: OTLP/gRPC is protobuf only"},
		{"grpc with a path", func(c *Config) { c.Protocol, c.Endpoint = "grpc", "http://c:4317/v1/logs" }, "without a path"},
		{"grpc without a port", func(c *Config) { c.Protocol, c.Endpoint = "grpc", "http://c" }, "give the port"},
		{"both endpoints", func(c *Config) { c.LogsEndpoint = "http://c:4318/v1/logs" }, "logs_endpoint: give endpoint or logs_endpoint, not both"},
		{"tls on http://", func(c *Config) { c.TLS = &tlsconf.Client{MinVersion: "1.2"} }, "tls: the endpoint is http://"},
		{"tls files missing", func(c *Config) {
			c.Endpoint = "https://c:4318"
			c.TLS = &tlsconf.Client{CAFile: missing, MinVersion: "1.2"}
		}, "tls.ca_file: cannot read " + missing},
		{"unreadable token file", func(c *Config) {
			c.Auth = &httpc.Auth{Bearer: &httpc.Bearer{TokenFile: missing}}
		}, "auth.bearer.token_file: cannot read " + missing},
		{"token file", func(c *Config) { c.Auth = &httpc.Auth{Bearer: &httpc.Bearer{TokenFile: tokenFile}} }, ""},
		{"reserved header", func(c *Config) { c.Headers = map[string]string{"Content-Type": "text/plain"} }, "headers.Content-Type: the output sets Content-Type itself"},
		{"api key header", func(c *Config) { c.Headers = map[string]string{"api-key": "k"} }, ""},
		{"bad resource pattern", func(c *Config) { c.ResourceAttributes = []string{"k8s.*.name"} }, `resource_attributes[0]: "k8s.*.name": give a name, or a prefix ending in *`},
		{"concurrency", func(c *Config) { c.Concurrency = 0 }, "concurrency: must be between 1 and 256, got 0"},
		{"timeout", func(c *Config) { c.Timeout = 0 }, "timeout: must be more than 0"},
	} {
		c := &Config{}
		conf.ApplyDefaults(c)
		c.Endpoint = "http://collector:4318"
		tc.set(c)
		err := c.Validate()
		if tc.want == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
		}
	}
}
