package loki

import (
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/capstan-agent/capstan/component/conf"
	"github.com/capstan-agent/capstan/component/tlsconf"
	"github.com/capstan-agent/capstan/shipper/delivery"
	"github.com/capstan-agent/capstan/shipper/httpc"
)

// Encodings of a push.
const (
	EncodingProtobuf = "protobuf" // logproto.PushRequest, snappy block-compressed
	EncodingJSON     = "json"     // Loki's JSON push
)

// PushPath is Loki's push endpoint, appended to the endpoint.
const PushPath = "/loki/api/v1/push"

// MaxLabels is Loki's max_label_names_per_series default: a stream with
// more label names is refused.
const MaxLabels = 15

// OutOfOrderWindow is how far behind its stream's newest entry Loki takes
// an entry by default: half of the ingester's max_chunk_age (2h).
const OutOfOrderWindow = time.Hour

// DefaultLabels make the stream of a record by default: the input it came
// from and the host.
var DefaultLabels = map[string]string{"job": "input", "host": "host.name"}

// Config is the loki output's YAML: the keys under outputs.NAME with
// type: loki.
type Config struct {
	// Endpoint is Loki's base URL (PushPath is appended), or the push URL
	// itself.
	Endpoint string `koanf:"endpoint"`
	Encoding string `koanf:"encoding" enum:"protobuf,json"`
	// Tenant is sent as X-Scope-OrgID (a multi-tenant Loki).
	Tenant string `koanf:"tenant"`
	// Labels maps a label name to the attribute its value is taken from
	// (the record's own, else its source's); nil means DefaultLabels (a map
	// would merge the user's with the defaults).
	Labels map[string]string `koanf:"labels"`
	// StaticLabels are labels of every stream.
	StaticLabels map[string]string `koanf:"static_labels"`
	// StructuredMetadata sends the attributes that are not labels as
	// structured metadata of each entry.
	StructuredMetadata bool `koanf:"structured_metadata"`
	// MaxStreams caps the distinct label sets: records of a new set past
	// it go to the overflow stream.
	MaxStreams int               `koanf:"max_streams"`
	Headers    map[string]string `koanf:"headers"`
	Auth       *httpc.Auth       `koanf:"auth"`
	TLS        *tlsconf.Client   `koanf:"tls"`
	// Timeout bounds one request, from sending it to its answer.
	Timeout        time.Duration `koanf:"timeout"`
	ConnectTimeout time.Duration `koanf:"connect_timeout"`
	// Concurrency is how many requests may be in flight at once.
	Concurrency int `koanf:"concurrency"`
	// StreamInFlight is how many of them may be one stream's, and only
	// while their entries lie within StreamInFlightSpan of each other
	// (docs/output-loki.md, "Order").
	StreamInFlight     int           `koanf:"stream_in_flight"`
	StreamInFlightSpan time.Duration `koanf:"stream_in_flight_span"`
	delivery.Config    `koanf:",squash"`
}

// SetDefaults sets the defaults (after the engine's).
func (c *Config) SetDefaults() {
	c.Encoding = EncodingProtobuf
	c.StructuredMetadata = true
	c.MaxStreams = 1000
	c.Timeout, c.ConnectTimeout, c.Concurrency = 30*time.Second, 5*time.Second, 4
	c.StreamInFlight, c.StreamInFlightSpan = 2, time.Minute
}

// Validate checks every key.
func (c *Config) Validate() error {
	var e conf.Errors
	if u, ok := c.url(&e); ok && c.TLS != nil && u.Scheme == "http" {
		e.Add("tls", "the endpoint is http://, which does not use TLS: write https://")
	}
	e.OneOf("encoding", c.Encoding, EncodingProtobuf, EncodingJSON)
	if !validTenant(c.Tenant) {
		e.Add("tenant", "%q is not a Loki tenant id (at most 150 of a-z, A-Z, 0-9 and !-_.*'(), not . or ..)", c.Tenant)
	}
	labels := c.labels()
	for _, name := range sortedKeys(labels) {
		p := conf.Join("labels", name)
		if checkLabelName(&e, p, name) {
			e.Required(p, labels[name], "the attribute the label's value is taken from")
		}
	}
	for _, name := range sortedKeys(c.StaticLabels) {
		p := conf.Join("static_labels", name)
		if checkLabelName(&e, p, name) {
			if _, dup := labels[name]; dup {
				e.Add(p, "label %q is also under labels: give it once", name)
			}
			e.Required(p, c.StaticLabels[name], "the label's value (Loki drops a label with an empty value)")
		}
	}
	if n := len(labels) + len(c.StaticLabels); n > MaxLabels {
		e.Add("labels", "%d labels: Loki refuses a stream with more than %d label names", n, MaxLabels)
	}
	e.Range("max_streams", int64(c.MaxStreams), 1, 100000)
	httpc.ValidateHeaders(&e, "headers", c.Headers, "content-type", "content-encoding", "content-length", "x-scope-orgid")
	if c.Auth != nil {
		e.Merge("auth", c.Auth.Validate())
	}
	if c.TLS != nil {
		e.Merge("tls", c.TLS.Validate())
	}
	e.Positive("timeout", int64(c.Timeout))
	e.Positive("connect_timeout", int64(c.ConnectTimeout))
	e.Range("concurrency", int64(c.Concurrency), 1, 256)
	e.Range("stream_in_flight", int64(c.StreamInFlight), 1, 16)
	e.Positive("stream_in_flight_span", int64(c.StreamInFlightSpan))
	e.Merge("", c.Config.Validate())
	return e.Err()
}

// Warnings are what is valid but probably a mistake: a label whose values
// are many (an id, an address, a time) makes a stream per value, which
// Loki's index is not made for. Paths are relative to the output.
func (c *Config) Warnings() conf.Errors {
	var w conf.Errors
	if c.StreamInFlight > 1 && c.StreamInFlightSpan >= OutOfOrderWindow {
		w.Add("stream_in_flight_span", "%s is not inside Loki's default out-of-order window (%s, half of max_chunk_age): a stream's requests that land out of order may be refused as too far behind",
			c.StreamInFlightSpan, OutOfOrderWindow)
	}
	labels := c.labels()
	for _, name := range sortedKeys(labels) {
		if why := highCardinality(labels[name]); why != "" {
			w.Add(conf.Join("labels", name), "%s is a high-cardinality field (%s): every value makes a Loki stream; leave it to structured metadata",
				labels[name], why)
		}
	}
	return w
}

// checkLabelName checks a label name as Loki's label parser does
// ([a-zA-Z_][a-zA-Z0-9_]*), refusing the names Loki reserves (__*).
func checkLabelName(e *conf.Errors, path, name string) bool {
	if !validLabelName(name) {
		e.Add(path, "%q is not a Loki label name ([a-zA-Z_][a-zA-Z0-9_]*): write %s", name, sanitizeName(name))
		return false
	}
	if strings.HasPrefix(name, "__") {
		e.Add(path, "%q: names starting with __ are Loki's own", name)
		return false
	}
	return true
}

// validTenant checks an X-Scope-OrgID as Loki (dskit) does; "" is none.
func validTenant(s string) bool {
	if len(s) > 150 || s == "." || s == ".." {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("!-_.*'()", c)) {
			return false
		}
	}
	return true
}

func validLabelName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !nameByte(s[i], i == 0) {
			return false
		}
	}
	return true
}

func nameByte(b byte, first bool) bool {
	return b == '_' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || !first && b >= '0' && b <= '9'
}

// sanitizeName makes a label or structured metadata name of s: every
// other byte becomes '_', and a leading digit gets one before it (what
// Loki does to OTLP attribute names).
func sanitizeName(s string) string { return string(appendName(nil, []byte(s))) }

func appendName(dst, s []byte) []byte {
	if len(s) == 0 {
		return append(dst, '_')
	}
	if s[0] >= '0' && s[0] <= '9' {
		dst = append(dst, '_')
	}
	for i := 0; i < len(s); i++ {
		if nameByte(s[i], false) {
			dst = append(dst, s[i])
		} else {
			dst = append(dst, '_')
		}
	}
	return dst
}

// highCardinality says why an attribute's values are probably many, or
// "": ids, addresses, times and texts, judged by the name's last word.
func highCardinality(attr string) string {
	name := strings.ToLower(attr)
	for _, id := range compoundIDs {
		if name == id || strings.HasSuffix(name, "."+id) || strings.HasSuffix(name, "_"+id) {
			return "an id per request, trace or object"
		}
	}
	last := name
	if i := strings.LastIndexAny(name, "._"); i >= 0 {
		last = name[i+1:]
	}
	switch last {
	case "id", "uid", "uuid", "ulid", "guid":
		return "an id per object"
	case "ip", "addr", "address", "port", "peer":
		return "an address per client"
	case "time", "timestamp", "ts", "date", "duration", "latency":
		return "a value per record"
	case "message", "msg", "body", "line", "query", "url", "uri":
		return "a value per record"
	case "pid", "tid":
		return "a process id"
	}
	return ""
}

// compoundIDs are names of ids whose last word alone says less.
var compoundIDs = []string{"trace_id", "span_id", "request_id", "traceid", "spanid", "requestid", "user_id", "session_id"}

// labels are the configured labels, or the defaults.
func (c *Config) labels() map[string]string {
	if c.Labels == nil {
		return DefaultLabels
	}
	return c.Labels
}

// url checks the endpoint and returns the push URL.
func (c *Config) url(e *conf.Errors) (*url.URL, bool) {
	if !e.Required("endpoint", c.Endpoint, "Loki's URL, e.g. http://loki:3100") {
		return nil, false
	}
	u, ok := e.URL("endpoint", c.Endpoint, "http", "https")
	if !ok {
		return nil, false
	}
	if !strings.HasSuffix(u.Path, PushPath) {
		u.Path = strings.TrimSuffix(u.Path, "/") + PushPath
	}
	return u, true
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
