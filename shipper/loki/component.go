package loki

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/klauspost/compress/s2"
	"go.uber.org/zap"

	"github.com/capstan-agent/capstan/component"
	"github.com/capstan-agent/capstan/component/conf"
	"github.com/capstan-agent/capstan/component/tlsconf"
	"github.com/capstan-agent/capstan/shipper/delivery"
	"github.com/capstan-agent/capstan/shipper/httpc"
	"github.com/capstan-agent/capstan/spool"
)

// answerLimit bounds how much of an answer body is read (for messages).
const answerLimit = 4 << 10

// NewFactory makes the factory of the loki output type.
func NewFactory() component.OutputFactory {
	return component.NewOutputFactory("loki", conf.Defaults[Config], func(set component.Settings, c *Config) (component.Output, error) { return New(set, c) })
}

// New makes a loki output: the delivery engine with the Loki encoder and
// sender, Ordered with a stream per key (docs/output-loki.md, "Order"). It
// validates and allocates; connections are made when it runs.
func New(set component.Settings, c *Config) (*delivery.Engine, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	var e conf.Errors
	u, _ := c.url(&e)
	log := set.Logger
	if log == nil {
		log = zap.NewNop()
	}
	lb := newLabeler(c.labels(), c.StaticLabels, c.MaxStreams, log)
	enc := &encoder{labeler: lb, json: c.Encoding == EncodingJSON, meta: c.StructuredMetadata}
	s := &sender{cfg: c, url: u.String(), lb: lb, json: enc.json, bufs: make(chan *buffers, c.Concurrency)}
	opts := delivery.Options{Config: c.Config, Concurrency: c.Concurrency, Timeout: c.Timeout, Ordered: true,
		OrderedInFlight: c.StreamInFlight, OrderedSpan: c.StreamInFlightSpan}
	return delivery.New(set, opts, enc, s), nil
}

// sender pushes requests and classes Loki's answers.
type sender struct {
	cfg    *Config
	url    string
	lb     *labeler
	json   bool
	auth   *httpc.Authorizer
	tr     *httpc.Transport
	client *http.Client
	// bufs are the sends' buffers, one per request in flight: a free list
	// rather than a sync.Pool, which a GC empties, making a busy output
	// allocate a push and its compressed copy again after every GC.
	bufs chan *buffers
}

type buffers struct {
	push, body, answer []byte
	rb                 httpc.Body
}

// Open loads TLS and the auth secrets and makes the client.
func (s *sender) Open(context.Context, component.OutputHost, map[spool.Key]uint64) error {
	var tc *tls.Config
	var e conf.Errors
	if u, _ := s.cfg.url(&e); u != nil && u.Scheme == "https" {
		tl := s.cfg.TLS
		if tl == nil {
			tl = &tlsconf.Client{}
		}
		var err error
		if tc, err = tl.Config(u.Hostname()); err != nil {
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
	return nil
}

// keepMethod follows a redirect only if it keeps the POST and its body
// (307, 308); a 301, 302 or 303 would turn it into a GET.
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
	return nil
}

// Send pushes a request (one stream) once and classes the answer.
func (s *sender) Send(ctx context.Context, req *delivery.Request) delivery.Result {
	var b *buffers
	select {
	case b = <-s.bufs:
	default:
		b = &buffers{}
	}
	defer func() {
		select {
		case s.bufs <- b:
		default:
		}
	}()
	contentType := "application/x-protobuf"
	if s.json {
		contentType = "application/json"
		b.push = appendJSONStream(b.push[:0], req.Key())
		b.rb.Parts = [3][]byte{b.push, req.Body, jsonEnd}
	} else {
		b.push = appendPush(b.push[:0], req.Key(), req.Body)
		b.body = s2.EncodeSnappy(b.body[:cap(b.body)], b.push) // snappy block format, S2 extensions unused
		b.rb.Parts = [3][]byte{b.body}
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, b.rb.Reset())
	if err != nil {
		return delivery.Retry("request", err)
	}
	hreq.ContentLength = b.rb.Len()
	hreq.GetBody = func() (io.ReadCloser, error) { return b.rb.Reset(), nil }
	h := hreq.Header
	h.Set("User-Agent", "capstan")
	h.Set("Content-Type", contentType)
	for k, v := range s.cfg.Headers {
		h.Set(k, v)
	}
	if s.cfg.Tenant != "" {
		h.Set("X-Scope-OrgID", s.cfg.Tenant)
	}
	if err := s.auth.Apply(h); err != nil {
		return delivery.Retry("auth", err)
	}
	resp, err := s.client.Do(hreq)
	defer b.rb.Finish()
	if err != nil {
		return delivery.Retry(httpc.ErrorReason(err), err)
	}
	b.answer = httpc.ReadBody(resp, b.answer, answerLimit)
	return classify(resp.StatusCode, resp.Header, b.answer, time.Now()).result()
}

// Metrics reports the connections, the streams and the overflow.
func (s *sender) Metrics() []component.Metric {
	m := []component.Metric{
		component.G("streams", s.lb.streams.Load()),
		component.C("label_overflow_records_total", s.lb.overflow.Load()),
	}
	if s.tr != nil {
		m = append(m, component.G("connections", s.tr.Open()))
	}
	return m
}
