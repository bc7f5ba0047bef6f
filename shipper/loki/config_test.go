package loki

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

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
		{"defaults with an endpoint", func(c *Config) {}, ""},
		{"push url given", func(c *Config) { c.Endpoint = "https://logs.example.com/loki/api/v1/push" }, ""},
		{"no endpoint", func(c *Config) { c.Endpoint = "" }, "endpoint: missing: Loki's URL"},
		{"no scheme", func(c *Config) { c.Endpoint = "loki:3100" }, "endpoint:"},
		{"encoding", func(c *Config) { c.Encoding = "msgpack" }, `encoding: "msgpack" is not one of protobuf, json`},
		{"label name", func(c *Config) { c.Labels = map[string]string{"host-name": "host.name"} },
			`labels.host-name: "host-name" is not a Loki label name ([a-zA-Z_][a-zA-Z0-9_]*): write host_name`},
		{"label name with a digit first", func(c *Config) { c.Labels = map[string]string{"1x": "a"} }, `labels.1x: "1x" is not a Loki label name`},
		{"reserved label name", func(c *Config) { c.Labels = map[string]string{"__name__": "a"} }, `labels."__name__": "__name__": names starting with __ are Loki's own`},
		{"label without attribute", func(c *Config) { c.Labels = map[string]string{"app": ""} }, "labels.app: missing"},
		{"static label twice", func(c *Config) { c.StaticLabels = map[string]string{"job": "x"} }, `static_labels.job: label "job" is also under labels`},
		{"static label empty", func(c *Config) { c.StaticLabels = map[string]string{"env": ""} }, "static_labels.env: missing"},
		{"too many labels", func(c *Config) {
			c.Labels = map[string]string{}
			for _, n := range strings.Split("a b c d e f g h i j k l m n o p", " ") {
				c.Labels[n] = n
			}
		}, "labels: 16 labels: Loki refuses a stream with more than 15 label names"},
		{"max_streams", func(c *Config) { c.MaxStreams = 0 }, "max_streams: must be between 1"},
		{"tenant", func(c *Config) { c.Tenant = "a\nb" }, "tenant:"},
		{"tenant with a slash", func(c *Config) { c.Tenant = "shop/eu" }, `tenant: "shop/eu" is not a Loki tenant id`},
		{"tenant dots", func(c *Config) { c.Tenant = ".." }, "tenant:"},
		{"tenant ok", func(c *Config) { c.Tenant = "shop-eu_1" }, ""},
		{"tenant header", func(c *Config) { c.Headers = map[string]string{"X-Scope-OrgID": "a"} }, "headers"},
		{"tls on http", func(c *Config) { c.TLS = &tlsconf.Client{MinVersion: "1.2"} }, "tls: the endpoint is http://"},
		{"tls files missing", func(c *Config) {
			c.Endpoint = "https://loki/"
			c.TLS = &tlsconf.Client{CertFile: missing, KeyFile: missing}
		}, "tls.cert_file: cannot read " + missing},
		{"unreadable token file", func(c *Config) { c.Auth = &httpc.Auth{Bearer: &httpc.Bearer{TokenFile: missing}} }, "auth.bearer.token_file: cannot read " + missing},
		{"engine keys", func(c *Config) { c.Batch.MaxRecords = 0 }, "batch.max_records: must be between 1"},
		{"stream_in_flight", func(c *Config) { c.StreamInFlight = 0 }, "stream_in_flight: must be between 1 and 16, got 0"},
		{"stream_in_flight_span", func(c *Config) { c.StreamInFlightSpan = 0 }, "stream_in_flight_span: must be more than 0"},
	} {
		c := &Config{}
		conf.ApplyDefaults(c)
		c.Endpoint = "http://loki:3100"
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

// TestConfigWarnings: labels from fields with a value per record, client
// or object are warned about; the usual ones are not.
func TestConfigWarnings(t *testing.T) {
	for _, tc := range []struct {
		attr string
		warn bool
	}{
		{"host.name", false}, {"input", false}, {"k8s.namespace.name", false}, {"k8s.pod.name", false},
		{"log.file.path", false}, {"service.name", false}, {"level", false},
		{"k8s.pod.uid", true}, {"container.id", true}, {"trace_id", true}, {"span_id", true}, {"request_id", true},
		{"client.ip", true}, {"remote_addr", true}, {"timestamp", true}, {"msg", true}, {"http.url", true}, {"pid", true},
	} {
		c := &Config{}
		conf.ApplyDefaults(c)
		c.Endpoint = "http://loki:3100"
		c.Labels = map[string]string{"x": tc.attr}
		w := c.Warnings()
		if got := len(w) > 0; got != tc.warn {
			t.Errorf("%s: warnings %v, want a warning: %v", tc.attr, w, tc.warn)
		}
		if tc.warn && (w[0].Path != "labels.x" || !strings.Contains(w[0].Msg, tc.attr+" is a high-cardinality field")) {
			t.Errorf("%s: warning %v", tc.attr, w[0])
		}
	}
}

// TestDefaultLabels: without labels, job and host; labels given replace
// them (not merged).
func TestDefaultLabels(t *testing.T) {
	c := &Config{}
	conf.ApplyDefaults(c)
	if got := c.labels(); len(got) != 2 || got["job"] != "input" || got["host"] != "host.name" {
		t.Errorf("default labels %v", got)
	}
	c.Labels = map[string]string{"app": "app"}
	if got := c.labels(); len(got) != 1 {
		t.Errorf("labels %v", got)
	}
}

// A span of a stream's requests in flight as long as Loki's default
// out-of-order window is warned about; with one request at a time it does
// not matter.
func TestStreamInFlightSpanWarning(t *testing.T) {
	for _, tc := range []struct {
		inFlight int
		span     time.Duration
		warn     bool
	}{{2, time.Minute, false}, {2, time.Hour, true}, {1, 2 * time.Hour, false}} {
		c := &Config{}
		conf.ApplyDefaults(c)
		c.Endpoint = "http://loki:3100"
		c.StreamInFlight, c.StreamInFlightSpan = tc.inFlight, tc.span
		w := c.Warnings()
		if got := len(w) > 0; got != tc.warn {
			t.Errorf("%d in flight, span %s: warnings %v, want a warning: %v", tc.inFlight, tc.span, w, tc.warn)
		}
		if tc.warn && (w[0].Path != "stream_in_flight_span" || !strings.Contains(w[0].Msg, "out-of-order window")) {
			t.Errorf("warning %v", w[0])
		}
	}
}
