package httpout

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/capstan-agent/capstan/component"
	"github.com/capstan-agent/capstan/component/conf"
	"github.com/capstan-agent/capstan/component/tlsconf"
	"github.com/capstan-agent/capstan/shipper/delivery"
	"github.com/capstan-agent/capstan/shipper/httpc"
	"github.com/capstan-agent/capstan/spool"
)

// answerLimit bounds how much of an answer body is read (for messages).
const answerLimit = 4 << 10

// NewFactory makes the factory of the http output type.
func NewFactory() component.OutputFactory {
	return component.NewOutputFactory("http", conf.Defaults[Config], func(set component.Settings, c *Config) (component.Output, error) { return New(set, c) })
}

// New makes an http output: the delivery engine with its encoder and
// sender. It validates and allocates; connections are made when it runs.
func New(set component.Settings, c *Config) (*delivery.Engine, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	comp, err := httpc.NewCompressor(c.Compression, c.Concurrency)
	if err != nil {
		return nil, err
	}
	s := &sender{cfg: c, comp: comp}
	s.url, _ = parseTemplate(c.URL) // Validate parsed them
	names := make([]string, 0, len(c.Headers))
	for k := range c.Headers {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		t, _ := parseTemplate(c.Headers[k])
		s.headers = append(s.headers, header{name: http.CanonicalHeaderKey(k), value: t})
	}
	// The fields the templates read, each once: a request's key is their
	// values.
	for _, t := range append([]template{s.url}, headerTemplates(s.headers)...) {
		for _, r := range t.refs() {
			if !slices.Contains(s.fields, r) {
				s.fields = append(s.fields, r)
			}
		}
	}
	s.contentType = c.ContentType
	if s.contentType == "" {
		s.contentType = map[string]string{NDJSON: "application/x-ndjson", JSONArray: "application/json", Raw: "text/plain; charset=utf-8"}[c.Encoding]
	}
	opts := delivery.Options{Config: c.Config, Concurrency: c.Concurrency, Timeout: c.Timeout}
	enc := encoder{format: c.Encoding}
	if len(s.fields) == 0 {
		return delivery.New(set, opts, enc, s), nil
	}
	return delivery.New(set, opts, &keyedEncoder{encoder: enc, fields: s.fields}, s), nil
}

type header struct {
	name  string
	value template
}

func headerTemplates(hs []header) []template {
	out := make([]template, len(hs))
	for i, h := range hs {
		out[i] = h.value
	}
	return out
}

// encoder appends a record to a request's body in the output's encoding.
type encoder struct{ format string }

func (e encoder) Encode(req *delivery.Request, rec *delivery.Record) error {
	switch e.format {
	case Raw:
		req.Body = append(append(req.Body, rec.Body...), '\n')
	case JSONArray:
		if req.Len() > 0 {
			req.Body = append(req.Body, ',')
		}
		req.Body = delivery.AppendJSON(req.Body, rec)
	default:
		req.Body = delivery.AppendNDJSON(req.Body, rec)
	}
	return nil
}

// keyedEncoder puts records with other values of the templates' fields in
// other requests: their key is those values, each preceded by its length.
type keyedEncoder struct {
	encoder
	fields []string
	bufs   sync.Map // spool.Key -> *[]byte: a key buffer per partition (its lane's)
}

func (e *keyedEncoder) Key(rec *delivery.Record) []byte {
	if len(e.fields) == 1 {
		return lookup(e.fields[0], rec.Attrs(), rec.SourceAttrs()) // points into rec, as a key may
	}
	bp, ok := e.bufs.Load(rec.Partition)
	if !ok {
		bp, _ = e.bufs.LoadOrStore(rec.Partition, new([]byte))
	}
	b := (*bp.(*[]byte))[:0]
	for _, f := range e.fields {
		v := lookup(f, rec.Attrs(), rec.SourceAttrs())
		b = binary.AppendUvarint(b, uint64(len(v)))
		b = append(b, v...)
	}
	*bp.(*[]byte) = b
	return b
}

// sender sends a request with the URL and headers its key makes.
type sender struct {
	cfg         *Config
	url         template
	headers     []header
	fields      []string
	contentType string
	comp        *httpc.Compressor
	auth        *httpc.Authorizer
	tr          *httpc.Transport
	client      *http.Client
	bufs        sync.Pool // *buffers
}

type buffers struct {
	values   [][]byte
	url, hdr []byte
	body     []byte // compressed
	answer   []byte
	rb       httpc.Body
}

var arrayOpen, arrayClose = []byte("["), []byte("]")

// Open loads TLS and the auth secrets and makes the client.
func (s *sender) Open(context.Context, component.OutputHost, map[spool.Key]uint64) error {
	var tc *tls.Config
	u, _ := url.Parse(string(s.url.expand(nil, placeholders(s.url), appendRaw)))
	if u != nil && u.Scheme == "https" {
		tl := s.cfg.TLS
		if tl == nil {
			tl = &tlsconf.Client{}
		}
		host := u.Hostname()
		if !s.url.static() {
			host = "" // a templated host is verified by its own name
		}
		var err error
		if tc, err = tl.Config(host); err != nil {
			return err
		}
	}
	auth, err := httpc.NewAuthorizer(s.cfg.Auth)
	if err != nil {
		return err
	}
	s.auth = auth
	s.tr = httpc.NewTransport(httpc.TransportOptions{TLS: tc, ConnectTimeout: s.cfg.ConnectTimeout, MaxConns: s.cfg.Concurrency})
	s.client = &http.Client{Transport: s.tr, CheckRedirect: keepMethod}
	s.bufs.New = func() any { return &buffers{} }
	return nil
}

// keepMethod follows a redirect only if it keeps the method and body (307,
// 308); a 301, 302 or 303 would turn a POST into a GET.
func keepMethod(req *http.Request, via []*http.Request) error {
	if len(via) >= 5 {
		return fmt.Errorf("stopped after %d redirects", len(via))
	}
	if req.Method != via[0].Method {
		return http.ErrUseLastResponse
	}
	return nil
}

// Close closes idle connections.
func (s *sender) Close() error {
	if s.tr != nil {
		s.tr.Close()
	}
	s.comp.Close()
	return nil
}

// Send sends a request once and classes the answer.
func (s *sender) Send(ctx context.Context, req *delivery.Request) delivery.Result {
	b := s.bufs.Get().(*buffers)
	defer s.bufs.Put(b)
	b.values = s.values(b.values[:0], req.Key())
	b.url = s.url.expand(b.url[:0], s.valuesOf(b.values, s.url), appendPathEscape)
	b.rb.Parts = [3][]byte{nil, req.Body, nil}
	if s.cfg.Encoding == JSONArray {
		b.rb.Parts = [3][]byte{arrayOpen, req.Body, arrayClose}
	}
	if s.comp.Name() != httpc.None {
		b.body = s.comp.Append(b.body[:0], b.rb.Parts[:]...)
		b.rb.Parts = [3][]byte{b.body}
	}
	hreq, err := http.NewRequestWithContext(ctx, s.cfg.Method, string(b.url), b.rb.Reset())
	if err != nil {
		// Only a field's value can make the URL bad: these records can
		// never go there.
		return delivery.Reject("url", fmt.Errorf("URL %q: %w", b.url, err))
	}
	hreq.ContentLength = b.rb.Len()
	hreq.GetBody = func() (io.ReadCloser, error) { return b.rb.Reset(), nil }
	hreq.Header.Set("User-Agent", "capstan")
	hreq.Header.Set("Content-Type", s.contentType)
	if ce := s.comp.ContentEncoding(); ce != "" {
		hreq.Header.Set("Content-Encoding", ce)
	}
	for _, h := range s.headers {
		b.hdr = h.value.expand(b.hdr[:0], s.valuesOf(b.values, h.value), appendHeaderValue)
		if h.name == "Host" {
			hreq.Host = string(b.hdr)
			continue
		}
		hreq.Header.Set(h.name, string(b.hdr))
	}
	if err := s.auth.Apply(hreq.Header); err != nil {
		return delivery.Retry("auth", err)
	}
	resp, err := s.client.Do(hreq)
	defer b.rb.Finish()
	if err != nil {
		return delivery.Retry(httpc.ErrorReason(err), err)
	}
	b.answer = httpc.ReadBody(resp, b.answer, answerLimit)
	a := classify(resp.StatusCode, resp.Header, b.answer, time.Now())
	switch a.verdict {
	case retry:
		r := delivery.Retry(a.reason, a.err)
		if a.after > 0 {
			r = r.After(a.after)
		}
		return r
	case reject:
		return delivery.Reject(a.reason, a.err)
	case tooLarge:
		return delivery.TooLarge(a.err)
	}
	return delivery.Delivered()
}

// values splits a request's key into the fields' values.
func (s *sender) values(dst [][]byte, key string) [][]byte {
	switch len(s.fields) {
	case 0:
		return dst
	case 1:
		return append(dst, []byte(key))
	}
	k := []byte(key)
	for range s.fields {
		n, w := binary.Uvarint(k)
		if w <= 0 || int(n) > len(k)-w {
			return append(dst, nil)
		}
		dst = append(dst, k[w:w+int(n)])
		k = k[w+int(n):]
	}
	return dst
}

// valuesOf picks the values of t's references, in its order.
func (s *sender) valuesOf(all [][]byte, t template) [][]byte {
	refs := t.refs()
	if len(refs) == 0 {
		return nil
	}
	out := make([][]byte, len(refs))
	for i, r := range refs {
		if j := slices.Index(s.fields, r); j >= 0 && j < len(all) {
			out[i] = all[j]
		}
	}
	return out
}

// Metrics reports the connections open to the destination.
func (s *sender) Metrics() []component.Metric {
	if s.tr == nil {
		return nil
	}
	return []component.Metric{component.G("connections", s.tr.Open())}
}
