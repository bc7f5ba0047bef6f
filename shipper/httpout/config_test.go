package httpout

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/capstan-agent/capstan/component/conf"
	"github.com/capstan-agent/capstan/component/tlsconf"
	"github.com/capstan-agent/capstan/shipper/httpc"
)

func TestConfigValidate(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing")
	for _, tc := range []struct {
		name string
		set  func(c *Config)
		want string
	}{
		{"defaults with a url", func(c *Config) {}, ""},
		{"templated url", func(c *Config) { c.URL = "https://logs.example.com/${tenant}/ingest" }, ""},
		{"templated host", func(c *Config) { c.URL = "https://${k8s.namespace.name}.logs.example.com/" }, ""},
		{"no url", func(c *Config) { c.URL = "" }, "url: missing: the URL to send records to"},
		{"no scheme", func(c *Config) { c.URL = "logs.example.com/ingest" }, `url: "logs.example.com/ingest": want a URL starting with http:// or https://`},
		{"template scheme", func(c *Config) { c.URL = "${proto}://x/" }, "url:"},
		{"bad template", func(c *Config) { c.URL = "https://x/${tenant" }, "url: unterminated ${"},
		{"bad header template", func(c *Config) { c.Headers = map[string]string{"X-T": "${"} }, "headers.X-T: unterminated ${"},
		{"unknown encoding", func(c *Config) { c.Encoding = "json" }, `encoding: "json" is not one of ndjson, json_array, raw`},
		{"method", func(c *Config) { c.Method = "GET" }, `method: "GET" is not one of POST, PUT`},
		{"compression", func(c *Config) { c.Compression = "br" }, `compression: "br" is not one of none, gzip, zstd`},
		{"unreadable token file", func(c *Config) { c.Auth = &httpc.Auth{Bearer: &httpc.Bearer{TokenFile: missing}} }, "auth.bearer.token_file: cannot read " + missing},
		{"tls files missing", func(c *Config) {
			c.URL = "https://x/"
			c.TLS = &tlsconf.Client{CertFile: missing, KeyFile: missing, MinVersion: "1.2"}
		}, "tls.cert_file: cannot read " + missing},
		{"tls on http", func(c *Config) { c.TLS = &tlsconf.Client{MinVersion: "1.2"} }, "tls: the url is http://"},
		{"engine keys", func(c *Config) { c.Batch.MaxRecords = 0 }, "batch.max_records: must be between 1"},
	} {
		c := &Config{}
		conf.ApplyDefaults(c)
		c.URL = "http://logs.example.com/ingest"
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
