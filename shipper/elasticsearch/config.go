package elasticsearch

import (
	"net/url"
	"strings"
	"time"

	"github.com/capstan-agent/capstan/component/conf"
	"github.com/capstan-agent/capstan/component/tlsconf"
	"github.com/capstan-agent/capstan/shipper/delivery"
	"github.com/capstan-agent/capstan/shipper/httpc"
)

// DefaultIndex is the index a record goes to by default: one a day.
const DefaultIndex = "logs-%Y.%m.%d"

// Config is the elasticsearch output's YAML: the keys under outputs.NAME
// with type: elasticsearch.
type Config struct {
	// Endpoints are the nodes' base URLs, tried in turn: a request that
	// gets no answer (or a 502/503/504) from one goes to the next.
	Endpoints []string `koanf:"endpoints"`
	// Index is the index (or data stream) of a record: a template of its
	// fields and its date (docs/output-elasticsearch.md, "Index").
	Index string `koanf:"index"`
	// IDField takes a document's _id from this field of the record instead
	// of deriving it from where the record came from.
	IDField     string            `koanf:"id_field"`
	Compression string            `koanf:"compression" enum:"gzip,none"`
	Headers     map[string]string `koanf:"headers"`
	Auth        *Auth             `koanf:"auth"`
	TLS         *tlsconf.Client   `koanf:"tls"`
	// Timeout bounds one request, from sending it to its answer.
	Timeout        time.Duration `koanf:"timeout"`
	ConnectTimeout time.Duration `koanf:"connect_timeout"`
	// Concurrency is how many requests may be in flight at once.
	Concurrency     int `koanf:"concurrency"`
	delivery.Config `koanf:",squash"`
}

// Auth is the auth section: basic, an API key or a bearer token, each
// with its secret inline (or from the environment with ${VAR}) or in a
// file read again when it changes.
type Auth struct {
	Basic  *httpc.Basic  `koanf:"basic"`
	APIKey *APIKey       `koanf:"api_key"`
	Bearer *httpc.Bearer `koanf:"bearer"`
}

// APIKey is an Elasticsearch API key, sent as Authorization: ApiKey KEY:
// the "encoded" value the create API key API answers (base64 of id:key).
type APIKey struct {
	Key     string `koanf:"key"`
	KeyFile string `koanf:"key_file"`
}

// SetDefaults sets the defaults (after the engine's).
func (c *Config) SetDefaults() {
	c.Index, c.Compression = DefaultIndex, httpc.Gzip
	c.Timeout, c.ConnectTimeout, c.Concurrency = 30*time.Second, 5*time.Second, 4
}

// Validate checks every key.
func (c *Config) Validate() error {
	var e conf.Errors
	if len(c.Endpoints) == 0 {
		e.Add("endpoints", "missing: give the nodes' URLs, e.g. [\"https://es-0:9200\"]")
	}
	schemes := map[string]bool{}
	for i, s := range c.Endpoints {
		p := conf.Index("endpoints", i)
		u, ok := e.URL(p, s, "http", "https")
		if !ok {
			continue
		}
		if u.RawQuery != "" || u.Fragment != "" {
			e.Add(p, "%q: give the node's base URL, without a query (/_bulk is appended)", s)
		}
		schemes[u.Scheme] = true
	}
	e.Unique("endpoints", c.Endpoints, "endpoint")
	if c.TLS != nil && schemes["http"] && !schemes["https"] {
		e.Add("tls", "the endpoints are http://, which does not use TLS: write https://")
	}
	if _, err := parseIndex(c.Index); err != nil {
		e.Add("index", "%v", err)
	}
	if c.IDField != "" && strings.TrimSpace(c.IDField) != c.IDField {
		e.Add("id_field", "%q: a field name has no spaces around it", c.IDField)
	}
	e.OneOf("compression", c.Compression, httpc.Gzip, httpc.None)
	httpc.ValidateHeaders(&e, "headers", c.Headers, "content-type", "content-encoding", "content-length", "authorization")
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

// Validate checks that one method is given, its secret once, its file
// readable.
func (a *Auth) Validate() error {
	var e conf.Errors
	n := 0
	for _, set := range []bool{a.Basic != nil, a.APIKey != nil, a.Bearer != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		e.Add("", "give one of basic, api_key or bearer")
		return e.Err()
	}
	switch {
	case a.Basic != nil:
		e.Merge("", (&httpc.Auth{Basic: a.Basic}).Validate())
	case a.Bearer != nil:
		e.Merge("", (&httpc.Auth{Bearer: a.Bearer}).Validate())
	case a.APIKey != nil:
		k := a.APIKey
		if (k.Key == "") == (k.KeyFile == "") {
			e.Add("api_key.key", "give the key inline or in api_key.key_file, once")
		} else if k.KeyFile != "" && e.Readable("api_key.key_file", k.KeyFile) {
			if _, err := a.authorizer(); err != nil {
				e.Add("api_key.key_file", "%v", unwrapKey(err))
			}
		}
	}
	return e.Err()
}

// authorizer makes what sets the Authorization header.
func (a *Auth) authorizer() (*httpc.Authorizer, error) {
	if a == nil {
		return nil, nil
	}
	if k := a.APIKey; k != nil {
		return httpc.NewSecretAuthorizer("Authorization", "ApiKey ", k.Key, k.KeyFile, "auth.api_key.key_file")
	}
	return httpc.NewAuthorizer(&httpc.Auth{Basic: a.Basic, Bearer: a.Bearer})
}

// unwrapKey drops the key path an authorizer's error starts with (the
// validation adds its own).
func unwrapKey(err error) string {
	s := err.Error()
	if _, rest, ok := strings.Cut(s, ": "); ok && strings.HasPrefix(s, "auth.") {
		return rest
	}
	return s
}

// bulkURLs are the endpoints' _bulk URLs, with the filter_path that keeps
// answers to what the output reads.
func (c *Config) bulkURLs() []string {
	out := make([]string, 0, len(c.Endpoints))
	for _, s := range c.Endpoints {
		u, err := url.Parse(s)
		if err != nil {
			continue // Validate refused it
		}
		u.Path = strings.TrimSuffix(u.Path, "/") + "/_bulk"
		u.RawQuery = "filter_path=" + filterPath
		out = append(out, u.String())
	}
	return out
}
