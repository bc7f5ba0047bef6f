package lokifake

import (
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// Limits are Loki's limits_config as the push path enforces them. A zero
// field takes Loki's default; a negative one disables the check.
type Limits struct {
	MaxLineSize                  int           // max_line_size, 256KB
	MaxLabelNamesPerSeries       int           // max_label_names_per_series, 15
	MaxLabelNameLength           int           // max_label_name_length, 1024
	MaxLabelValueLength          int           // max_label_value_length, 2048
	RejectOldSamplesMaxAge       time.Duration // reject_old_samples_max_age, 168h
	CreationGracePeriod          time.Duration // creation_grace_period, 10m
	MaxStructuredMetadataSize    int           // max_structured_metadata_size, 64KB
	MaxStructuredMetadataEntries int           // max_structured_metadata_entries_count, 128
	MaxStreamsPerTenant          int           // max_global_streams_per_user, 5000
	// AcceptOldSamples turns reject_old_samples (true by default) off.
	AcceptOldSamples bool
	// DisallowStructuredMetadata turns allow_structured_metadata (true by
	// default in Loki 3) off.
	DisallowStructuredMetadata bool
}

func (l Limits) withDefaults() Limits {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	def(&l.MaxLineSize, 256<<10)
	def(&l.MaxLabelNamesPerSeries, 15)
	def(&l.MaxLabelNameLength, 1024)
	def(&l.MaxLabelValueLength, 2048)
	def(&l.MaxStructuredMetadataSize, 64<<10)
	def(&l.MaxStructuredMetadataEntries, 128)
	def(&l.MaxStreamsPerTenant, 5000)
	defDur(&l.RejectOldSamplesMaxAge, 168*time.Hour)
	defDur(&l.CreationGracePeriod, 10*time.Minute)
	return l
}

// DefaultMaxRequestBytes is distributor.max_recv_msg_size (100MB).
const DefaultMaxRequestBytes = 100 << 20

// DefaultOutOfOrderWindow is half of the ingester's default max_chunk_age (2h).
const DefaultOutOfOrderWindow = time.Hour

// Options configure a fake. The zero value is a single-tenant Loki 3 with
// default limits that keeps every entry.
type Options struct {
	// MultiTenant is auth_enabled: true: X-Scope-OrgID is required. Without
	// it every push belongs to the tenant "fake", as in Loki.
	MultiTenant bool
	Limits      Limits
	// OutOfOrderWindow is how far behind a stream's newest entry an entry
	// may be (half of max_chunk_age); 0 means DefaultOutOfOrderWindow.
	OutOfOrderWindow time.Duration
	// MaxRequestBytes bounds the body as sent (413 beyond it);
	// MaxDecompressedBytes the body after Content-Encoding and snappy (400
	// beyond it). 0 means 100MB and 50 times MaxRequestBytes.
	MaxRequestBytes      int64
	MaxDecompressedBytes int64
	// MaxReturnedErrors is how many refused entries a 400 names
	// (ingester.max-ignored-stream-errors); 0 means 10.
	MaxReturnedErrors int
	// DiscoverServiceName adds service_name as Loki 3's distributor does by
	// default (from service_name, service, app, application, name,
	// app_kubernetes_io_name, container, container_name, component,
	// workload, job; else "unknown_service"). Off by default.
	DiscoverServiceName bool
	// StorageOff keeps no entries: each stream keeps its newest timestamp and
	// a set of 64-bit hashes of (timestamp, line) for duplicates. For benchmarks.
	StorageOff bool
	// Users and BearerTokens put an authenticating gateway in front (Loki
	// itself has none): a request without one of them is answered 401.
	Users        map[string]string
	BearerTokens []string
	// TLS, when set, serves HTTPS with this configuration (Start adds the
	// httptest certificate when it has none; for mTLS set ClientAuth and
	// ClientCAs, and give the client its own certificate).
	TLS *tls.Config
	// Now is the clock for reject_old_samples and creation_grace_period.
	Now func() time.Time
}

// Validate reports options the fake cannot honour.
func (o Options) Validate() error {
	if o.OutOfOrderWindow < 0 || o.MaxRequestBytes < 0 || o.MaxDecompressedBytes < 0 || o.MaxReturnedErrors < 0 {
		return fmt.Errorf("lokifake: negative window or size in %+v", o)
	}
	return nil
}

func (o Options) withDefaults() Options {
	o.Limits = o.Limits.withDefaults()
	if o.OutOfOrderWindow == 0 {
		o.OutOfOrderWindow = DefaultOutOfOrderWindow
	}
	if o.MaxRequestBytes == 0 {
		o.MaxRequestBytes = DefaultMaxRequestBytes
	}
	if o.MaxDecompressedBytes == 0 {
		o.MaxDecompressedBytes = 50 * o.MaxRequestBytes
	}
	if o.MaxReturnedErrors == 0 {
		o.MaxReturnedErrors = 10
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Fake is the fake Loki: an http.Handler serving POST /loki/api/v1/push
// and GET /ready. All methods are safe for concurrent use.
type Fake struct {
	opts Options

	mu      sync.Mutex
	tenants map[string]*tenant
	stats   Stats
	hashBuf []uint64 // storage off: the entries' hashes for push
	script  []Fault

	closing   chan struct{}
	closeOnce sync.Once
	bufs      sync.Pool
}

// New validates opts and returns an empty fake.
func New(opts Options) (*Fake, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	f := &Fake{opts: opts.withDefaults(), tenants: map[string]*tenant{}, closing: make(chan struct{})}
	f.stats.init()
	return f, nil
}

// Close releases requests held by a Hang fault; later requests get 503.
// Safe to call twice.
func (f *Fake) Close() { f.closeOnce.Do(func() { close(f.closing) }) }

// Server is a fake listening on 127.0.0.1.
type Server struct {
	*Fake
	// URL is the base URL; the push endpoint is URL + "/loki/api/v1/push".
	URL string
	ts  *httptest.Server
}

// PushURL is the push endpoint.
func (s *Server) PushURL() string { return s.URL + "/loki/api/v1/push" }

// Start runs a fake on 127.0.0.1 for the duration of the test.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	f, err := New(opts)
	if err != nil {
		t.Fatalf("lokifake: %v", err)
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

// Close releases hung requests and stops the server. Safe to call twice.
func (s *Server) Close() {
	s.Fake.Close()
	s.ts.Close()
}

// ServeHTTP routes a request as Loki's distributor does.
func (f *Fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	select {
	case <-f.closing:
		f.answer(w, http.StatusServiceUnavailable, "lokifake: closed", 0)
		return
	default:
	}
	switch r.URL.Path {
	case "/ready":
		f.answer(w, http.StatusOK, "ready", 0)
	case "/loki/api/v1/push":
		if r.Method != http.MethodPost {
			f.answer(w, http.StatusMethodNotAllowed, "Method Not Allowed", 0)
			return
		}
		f.servePush(w, r)
	default:
		f.answer(w, http.StatusNotFound, "404 page not found", 0)
	}
}

// answer writes Loki's plain-text answer (http.Error's shape: the message
// and a newline) or, for 204, nothing.
func (f *Fake) answer(w http.ResponseWriter, status int, msg string, wire int64) {
	f.mu.Lock()
	f.stats.Requests++
	f.stats.RequestsByStatus[status]++
	f.stats.BytesReceived += wire
	f.mu.Unlock()
	if status == http.StatusNoContent {
		w.WriteHeader(status)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	fmt.Fprintln(w, msg)
}

// gateway checks the credentials of the optional authenticating proxy.
func (f *Fake) gateway(r *http.Request) bool {
	o := f.opts
	if len(o.Users) == 0 && len(o.BearerTokens) == 0 {
		return true
	}
	scheme, cred, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	switch strings.ToLower(scheme) {
	case "basic":
		raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(cred))
		user, pass, ok := strings.Cut(string(raw), ":")
		want, known := o.Users[user]
		return err == nil && ok && known && subtle.ConstantTimeCompare([]byte(want), []byte(pass)) == 1
	case "bearer":
		for _, t := range o.BearerTokens {
			if subtle.ConstantTimeCompare([]byte(t), []byte(strings.TrimSpace(cred))) == 1 {
				return true
			}
		}
	}
	return false
}

// tenantID returns the push's tenant, or the status and message Loki
// answers when the header is missing or invalid (dskit's rules).
func (f *Fake) tenantID(r *http.Request) (string, int, string) {
	if !f.opts.MultiTenant {
		return "fake", 0, ""
	}
	id := r.Header.Get("X-Scope-OrgID")
	switch {
	case id == "":
		return "", http.StatusUnauthorized, "no org id"
	case strings.Contains(id, "|"):
		return "", http.StatusBadRequest, "multiple org IDs present"
	case len(id) > 150:
		return "", http.StatusBadRequest, "tenant ID is too long: max 150 characters"
	case id == "." || id == "..":
		return "", http.StatusBadRequest, "tenant ID is '.' or '..'"
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("!-_.*'()", c)) {
			return "", http.StatusBadRequest, fmt.Sprintf("tenant ID '%s' contains unsupported character '%c'", id, c)
		}
	}
	return id, 0, ""
}
