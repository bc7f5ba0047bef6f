package esfake

import (
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path"
	"strings"
	"sync"
	"testing"
	"time"
)

// Flavor selects which server the fake answers as.
type Flavor int

const (
	// Elasticsearch answers as Elasticsearch 8/9: X-Elastic-Product on every
	// response, security_exception bodies, document_parsing_exception.
	Elasticsearch Flavor = iota
	// OpenSearch answers as OpenSearch 2: version.distribution "opensearch",
	// no product header, mapper_parsing_exception, the security plugin's 401.
	OpenSearch
)

func (f Flavor) String() string {
	if f == OpenSearch {
		return "opensearch"
	}
	return "elasticsearch"
}

// DefaultMaxContentLength is Elasticsearch's http.max_content_length (100mb).
const DefaultMaxContentLength = 100 << 20

// Options configure a fake. The zero value is an Elasticsearch 8 node
// without security, every index a plain index, documents kept.
type Options struct {
	Flavor Flavor
	// Version is version.number in GET /; default "8.17.0" or "2.18.0".
	Version string
	// MaxContentLength is http.max_content_length: a bulk body larger than
	// this, after decompression as Elasticsearch counts it, is answered 413
	// with an empty body. 0 means DefaultMaxContentLength.
	MaxContentLength int64
	// DataStreams are index-template patterns ('*' matches any run of
	// characters, as in index_patterns): a name matching one is a data
	// stream, created on first write, that takes only create.
	DataStreams []string
	// ClosedIndices exist and are closed: writes get index_closed_exception.
	ClosedIndices []string
	// Users, APIKeys and BearerTokens turn security on: every request must
	// carry one of them. Users maps user name to password; APIKeys maps an
	// API key id to its secret (the client sends "ApiKey "+base64(id:secret)).
	Users        map[string]string
	APIKeys      map[string]string
	BearerTokens []string
	// StorageOff keeps no documents: requests are parsed and answered as
	// usual, ids are kept as 64-bit hashes so that a create of an existing id
	// is still a 409, and dynamic mapping is not checked. For benchmarks.
	StorageOff bool
	// TotalFieldsLimit is index.mapping.total_fields.limit; 0 means 1000.
	TotalFieldsLimit int
	// TLS, when set, serves HTTPS with this configuration (Start adds the
	// httptest certificate when it has none); ClientAuth and ClientCAs in it
	// ask for mTLS (Server.Client then has no client certificate: a test of
	// mTLS builds its own client).
	TLS *tls.Config
	// Now is the clock for data stream backing index names; nil is time.Now.
	Now func() time.Time
}

// Validate reports options the fake cannot honour.
func (o Options) Validate() error {
	if o.Flavor != Elasticsearch && o.Flavor != OpenSearch {
		return fmt.Errorf("esfake: flavor %d unknown", o.Flavor)
	}
	if o.MaxContentLength < 0 {
		return fmt.Errorf("esfake: max content length %d is negative", o.MaxContentLength)
	}
	if o.Flavor == OpenSearch && len(o.APIKeys) > 0 {
		return errors.New("esfake: OpenSearch has no API keys; use Users or BearerTokens")
	}
	for _, p := range o.DataStreams {
		if _, err := path.Match(p, ""); err != nil || p == "" || strings.ContainsAny(p, "?[\\") {
			return fmt.Errorf("esfake: data stream pattern %q: only '*' wildcards are allowed", p)
		}
	}
	for _, name := range o.ClosedIndices {
		if e := validateIndexName(name); e != nil {
			return fmt.Errorf("esfake: closed index: %s", e.Reason)
		}
	}
	return nil
}

func (o Options) withDefaults() Options {
	if o.Version == "" {
		o.Version = "8.17.0"
		if o.Flavor == OpenSearch {
			o.Version = "2.18.0"
		}
	}
	if o.MaxContentLength == 0 {
		o.MaxContentLength = DefaultMaxContentLength
	}
	if o.TotalFieldsLimit == 0 {
		o.TotalFieldsLimit = 1000
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Fake is the fake node: an http.Handler serving GET /, POST|PUT /_bulk and
// POST|PUT /{index}/_bulk. All methods are safe for concurrent use.
type Fake struct {
	opts Options

	mu      sync.Mutex
	st      store
	stats   Stats
	script  []Fault
	rule    ItemRule
	itemSeq int64
	reqSeq  int64

	closing   chan struct{}
	closeOnce sync.Once
	bufs      sync.Pool
}

// New validates opts and returns a fake with an empty cluster.
func New(opts Options) (*Fake, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	f := &Fake{opts: opts.withDefaults(), closing: make(chan struct{})}
	f.st.init(f.opts)
	for _, name := range opts.ClosedIndices {
		f.st.closeIndex(name)
	}
	f.stats.init()
	return f, nil
}

// Close releases requests held by a Hang fault. The handler answers 503 to
// anything after Close. Safe to call twice.
func (f *Fake) Close() { f.closeOnce.Do(func() { close(f.closing) }) }

// Server is a fake listening on 127.0.0.1.
type Server struct {
	*Fake
	// URL is the base URL, http://127.0.0.1:port (https with TLS).
	URL string
	ts  *httptest.Server
}

// Start runs a fake on 127.0.0.1 for the duration of the test.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	f, err := New(opts)
	if err != nil {
		t.Fatalf("esfake: %v", err)
	}
	ts := httptest.NewUnstartedServer(f)
	if opts.TLS != nil {
		ts.TLS = opts.TLS.Clone()
		ts.StartTLS()
	} else {
		ts.Start()
	}
	s := &Server{Fake: f, URL: ts.URL, ts: ts}
	t.Cleanup(s.Close)
	return s
}

// Client returns an http.Client that trusts the server's certificate.
func (s *Server) Client() *http.Client { return s.ts.Client() }

// Certificate returns the server's TLS certificate (nil without TLS).
func (s *Server) Certificate() *x509.Certificate { return s.ts.Certificate() }

// Close stops the server: it releases hung requests, then waits for the
// requests in flight. Safe to call twice.
func (s *Server) Close() {
	s.Fake.Close()
	s.ts.Close()
}

// ServeHTTP routes a request as an Elasticsearch node does.
func (f *Fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	if f.opts.Flavor == Elasticsearch {
		h.Set("X-Elastic-Product", "Elasticsearch")
	}
	select {
	case <-f.closing:
		f.writeError(w, r, &esError{Status: http.StatusServiceUnavailable, Type: "node_closed_exception", Reason: "node closed"})
		return
	default:
	}
	if e := f.authenticate(r); e != nil {
		f.countRequest(e.Status, 0)
		f.writeAuthError(w, r, e)
		return
	}
	p := strings.TrimSuffix(r.URL.Path, "/")
	switch {
	case p == "":
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			f.writeMethodNotAllowed(w, r, "GET, HEAD")
			return
		}
		f.serveInfo(w, r)
	case p == "/_bulk":
		f.serveBulkMethod(w, r, "")
	case strings.HasSuffix(p, "/_bulk") && strings.Count(p, "/") == 2:
		f.serveBulkMethod(w, r, strings.TrimSuffix(strings.TrimPrefix(p, "/"), "/_bulk"))
	default:
		f.writeSimpleError(w, r, http.StatusBadRequest, fmt.Sprintf("no handler found for uri [%s] and method [%s]", r.URL.RequestURI(), r.Method))
	}
}

func (f *Fake) serveBulkMethod(w http.ResponseWriter, r *http.Request, index string) {
	if r.Method != http.MethodPost && r.Method != http.MethodPut {
		f.writeMethodNotAllowed(w, r, "POST, PUT")
		return
	}
	f.serveBulk(w, r, index)
}

func (f *Fake) serveInfo(w http.ResponseWriter, r *http.Request) {
	o := f.opts
	var b []byte
	if o.Flavor == OpenSearch {
		b = fmt.Appendf(b, `{"name":"esfake","cluster_name":"esfake","cluster_uuid":%q,"version":{"distribution":"opensearch","number":%q,"build_type":"tar","build_hash":"esfake","build_date":"2024-01-01T00:00:00.000000000Z","build_snapshot":false,"lucene_version":"9.12.0","minimum_wire_compatibility_version":"7.10.0","minimum_index_compatibility_version":"7.0.0"},"tagline":"The OpenSearch Project: https://opensearch.org/"}`,
			f.st.clusterUUID, o.Version)
	} else {
		b = fmt.Appendf(b, `{"name":"esfake","cluster_name":"esfake","cluster_uuid":%q,"version":{"number":%q,"build_flavor":"default","build_type":"tar","build_hash":"esfake","build_date":"2024-01-01T00:00:00.000000000Z","build_snapshot":false,"lucene_version":"9.12.0","minimum_wire_compatibility_version":"7.17.0","minimum_index_compatibility_version":"7.0.0"},"tagline":"You Know, for Search"}`,
			f.st.clusterUUID, o.Version)
	}
	f.countRequest(http.StatusOK, 0)
	writeJSON(w, r, http.StatusOK, b)
}

// authenticate checks the Authorization header when security is on; a nil
// answer lets the request through.
func (f *Fake) authenticate(r *http.Request) *esError {
	o := f.opts
	if len(o.Users) == 0 && len(o.APIKeys) == 0 && len(o.BearerTokens) == 0 {
		return nil
	}
	uri := r.URL.RequestURI()
	scheme, cred, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	cred = strings.TrimSpace(cred)
	switch strings.ToLower(scheme) {
	case "basic":
		if len(o.Users) == 0 {
			break
		}
		raw, err := base64.StdEncoding.DecodeString(cred)
		user, pass, ok := strings.Cut(string(raw), ":")
		if err != nil || !ok {
			return authFailed(fmt.Sprintf("unable to authenticate user [%s] for REST request [%s]", user, uri), "")
		}
		want, known := o.Users[user]
		if !known || subtle.ConstantTimeCompare([]byte(want), []byte(pass)) != 1 {
			return authFailed(fmt.Sprintf("unable to authenticate user [%s] for REST request [%s]", user, uri), "")
		}
		return nil
	case "apikey":
		if len(o.APIKeys) == 0 {
			break
		}
		raw, err := base64.StdEncoding.DecodeString(cred)
		id, secret, ok := strings.Cut(string(raw), ":")
		if err != nil || !ok {
			return authFailed(anonymousRefused, "API key: invalid ApiKey value")
		}
		want, known := o.APIKeys[id]
		if !known {
			return authFailed(anonymousRefused, "API key: unable to find apikey with id "+id)
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(secret)) != 1 {
			return authFailed(anonymousRefused, "API key: invalid credentials for API key ["+id+"]")
		}
		return nil
	case "bearer":
		if len(o.BearerTokens) == 0 {
			break
		}
		for _, t := range o.BearerTokens {
			if subtle.ConstantTimeCompare([]byte(t), []byte(cred)) == 1 {
				return nil
			}
		}
		return authFailed(anonymousRefused, "")
	}
	return authFailed(fmt.Sprintf("missing authentication credentials for REST request [%s]", uri), "")
}

const anonymousRefused = "unable to authenticate with provided credentials and anonymous access is not allowed for this request"

func authFailed(reason, additional string) *esError {
	e := &esError{Status: http.StatusUnauthorized, Type: "security_exception", Reason: reason}
	if additional != "" {
		e.Extra = append(e.Extra, jsonField{"additional_unsuccessful_credentials", quoteJSON(additional)})
	}
	e.Extra = append(e.Extra, jsonField{"header", `{"WWW-Authenticate":["Basic realm=\"security\", charset=\"UTF-8\"","Bearer realm=\"security\"","ApiKey"]}`})
	return e
}

func (f *Fake) writeAuthError(w http.ResponseWriter, r *http.Request, e *esError) {
	h := w.Header()
	if f.opts.Flavor == OpenSearch {
		// The OpenSearch security plugin answers a bare text body.
		h.Set("WWW-Authenticate", `Basic realm="OpenSearch Security"`)
		h.Set("Content-Type", "text/plain; charset=UTF-8")
		w.WriteHeader(http.StatusUnauthorized)
		if r.Method != http.MethodHead {
			w.Write([]byte("Unauthorized"))
		}
		return
	}
	h.Add("WWW-Authenticate", `Basic realm="security", charset="UTF-8"`)
	h.Add("WWW-Authenticate", `Bearer realm="security"`)
	if len(f.opts.APIKeys) > 0 {
		h.Add("WWW-Authenticate", "ApiKey")
	}
	f.writeError(w, r, e)
}

func (f *Fake) writeMethodNotAllowed(w http.ResponseWriter, r *http.Request, allowed string) {
	w.Header().Set("Allow", strings.ReplaceAll(allowed, " ", ""))
	f.writeSimpleError(w, r, http.StatusMethodNotAllowed, fmt.Sprintf("Incorrect HTTP method for uri [%s] and method [%s], allowed: [%s]", r.URL.RequestURI(), r.Method, allowed))
}

// writeSimpleError writes Elasticsearch's short error form
// {"error":"…","status":N} used by the REST layer itself.
func (f *Fake) writeSimpleError(w http.ResponseWriter, r *http.Request, status int, msg string) {
	f.countRequest(status, 0)
	writeJSON(w, r, status, fmt.Appendf(nil, `{"error":%s,"status":%d}`, quoteJSON(msg), status))
}

func (f *Fake) writeError(w http.ResponseWriter, r *http.Request, e *esError) {
	writeJSON(w, r, e.Status, e.appendBody(nil))
}

func writeJSON(w http.ResponseWriter, r *http.Request, status int, body []byte) {
	h := w.Header()
	ct := "application/json"
	if strings.Contains(r.Header.Get("Accept"), "vnd.elasticsearch+json") || strings.Contains(r.Header.Get("Content-Type"), "vnd.elasticsearch+") {
		ct = "application/vnd.elasticsearch+json;compatible-with=8"
	}
	h.Set("Content-Type", ct)
	h.Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
}
