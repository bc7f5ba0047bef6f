package elasticsearch

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/capstan-agent/capstan/component/conf"
	"github.com/capstan-agent/capstan/component/tlsconf"
	"github.com/capstan-agent/capstan/shipper/httpc"
)

func TestConfigValidate(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing")
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, []byte("\n"), 0o600)
	for _, tc := range []struct {
		name string
		set  func(c *Config)
		want string // "" for valid
	}{
		{"defaults", func(c *Config) {}, ""},
		{"data stream", func(c *Config) { c.Index = "logs-app-default" }, ""},
		{"fields and date", func(c *Config) { c.Index = "logs-${service.name:-none}-%Y.%m.%d-%H" }, ""},
		{"two endpoints", func(c *Config) { c.Endpoints = []string{"https://a:9200", "https://b:9200/es/"} }, ""},
		{"no endpoints", func(c *Config) { c.Endpoints = nil }, "endpoints: missing"},
		{"not a URL", func(c *Config) { c.Endpoints = []string{"es:9200"} }, `endpoints[0]: "es:9200": want a URL starting with http:// or https://`},
		{"a query", func(c *Config) { c.Endpoints = []string{"http://es:9200/?pretty"} }, `endpoints[0]: "http://es:9200/?pretty": give the node's base URL`},
		{"twice", func(c *Config) { c.Endpoints = []string{"http://a:1", "http://a:1"} }, `endpoints[1]: endpoint "http://a:1" is listed twice`},
		{"tls over http", func(c *Config) { c.TLS = &tlsconf.Client{} }, "tls: the endpoints are http://"},
		{"field without a name", func(c *Config) { c.Index = "logs-${}-%Y" }, `index: "logs-${}-%Y": ${} at byte 5 names no field`},
		{"unterminated field", func(c *Config) { c.Index = "logs-${app" }, `index: "logs-${app": unterminated ${ at byte 5`},
		{"unknown verb", func(c *Config) { c.Index = "logs-%Y.%q" }, `index: "logs-%Y.%q": %q at byte 8 is not a date verb`},
		{"upper case", func(c *Config) { c.Index = "Logs" }, `index: "Logs": "L" at byte 0: index names are lower case`},
		{"bad character", func(c *Config) { c.Index = "logs app" }, `may not be in an index name`},
		{"leading underscore", func(c *Config) { c.Index = "_logs" }, `index: "_logs": an index name may not start with _`},
		{"empty index", func(c *Config) { c.Index = "" }, `index: missing`},
		{"compression", func(c *Config) { c.Compression = "zstd" }, `compression: "zstd" is not one of gzip, none`},
		{"authorization header", func(c *Config) { c.Headers = map[string]string{"Authorization": "x"} }, `headers.Authorization: the output sets Authorization itself`},
		{"two auths", func(c *Config) {
			c.Auth = &Auth{Bearer: &httpc.Bearer{Token: "t"}, APIKey: &APIKey{Key: "k"}}
		}, "auth: give one of basic, api_key or bearer"},
		{"api key twice", func(c *Config) { c.Auth = &Auth{APIKey: &APIKey{Key: "k", KeyFile: empty}} }, "auth.api_key.key: give the key inline or in api_key.key_file, once"},
		{"api key file missing", func(c *Config) { c.Auth = &Auth{APIKey: &APIKey{KeyFile: missing}} }, "auth.api_key.key_file: cannot read " + missing},
		{"api key file empty", func(c *Config) { c.Auth = &Auth{APIKey: &APIKey{KeyFile: empty}} }, "auth.api_key.key_file: " + empty + " is empty"},
		{"basic without user", func(c *Config) { c.Auth = &Auth{Basic: &httpc.Basic{Password: "p"}} }, "auth.basic.user: missing"},
		{"concurrency", func(c *Config) { c.Concurrency = 0 }, "concurrency: must be between 1 and 256"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &Config{}
			conf.ApplyDefaults(c)
			c.Endpoints = []string{"http://es:9200"}
			tc.set(c)
			err := c.Validate()
			if tc.want == "" {
				if err != nil {
					t.Errorf("refused: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v\nwant %q", err, tc.want)
			}
		})
	}
}

func TestBulkURLs(t *testing.T) {
	c := &Config{Endpoints: []string{"http://a:9200", "https://b/es/"}}
	got := c.bulkURLs()
	want := []string{"http://a:9200/_bulk?filter_path=" + filterPath, "https://b/es/_bulk?filter_path=" + filterPath}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("%v, want %v", got, want)
	}
}
