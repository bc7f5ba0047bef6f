package otlp

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/capstan-agent/capstan/component"
	"github.com/capstan-agent/capstan/component/conf"
	"github.com/capstan-agent/capstan/component/tlsconf"
	"github.com/capstan-agent/capstan/shipper/delivery"
	"github.com/capstan-agent/capstan/shipper/httpc"
	"github.com/capstan-agent/capstan/spool"
)

// userAgent is what requests say they come from.
const userAgent = "capstan"

// NewFactory makes the factory of the otlp output type.
func NewFactory() component.OutputFactory {
	return component.NewOutputFactory("otlp", conf.Defaults[Config], func(set component.Settings, c *Config) (component.Output, error) { return New(set, c) })
}

// New makes an otlp output: the delivery engine with the OTLP encoder and
// sender. It validates and allocates; connections are made when it runs.
func New(set component.Settings, c *Config) (*delivery.Engine, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	var e conf.Errors
	target, _ := c.url(&e)
	comp, err := httpc.NewCompressor(c.Compression, c.Concurrency)
	if err != nil {
		return nil, err
	}
	log := set.Logger
	if log == nil {
		log = zap.NewNop()
	}
	m := newMapping(c.Encoding == EncodingJSON, c.ResourceAttributes, c.SeverityFrom, c.RecordUID)
	s := &sender{cfg: c, m: m, target: target, comp: comp, log: log}
	opts := delivery.Options{Config: c.Config, Concurrency: c.Concurrency, Timeout: c.Timeout}
	return delivery.New(set, opts, &encoder{m: m}, s), nil
}

// encoder appends records to requests as LogRecords; a request's Resource
// groups are in its Data.
type encoder struct{ m *mapping }

func (e *encoder) Encode(req *delivery.Request, rec *delivery.Record) error {
	s, _ := req.Data.(*reqState)
	if s == nil {
		s = &reqState{}
		req.Data = s
	}
	if req.Len() == 0 {
		s.reset()
	}
	v := view{Record: &rec.Record, src: rec.SourceAttrs(), part: rec.Partition, producer: rec.Producer,
		sequence: rec.Sequence, index: rec.Index, count: rec.Count}
	req.Body = e.m.encode(req.Body, s, &v)
	return nil
}

// transport is OTLP/HTTP or OTLP/gRPC.
type transport interface {
	send(ctx context.Context, body []byte, s *reqState) answer
	connections() int64
	close()
}

// sender sends requests and turns the destination's answers into the
// engine's results.
type sender struct {
	cfg    *Config
	m      *mapping
	target string // logs URL (HTTP) or host:port (gRPC)
	comp   *httpc.Compressor
	log    *zap.Logger
	t      transport

	warned atomic.Int64 // unix nanoseconds of the last partial-success warning logged
}

// Open loads TLS and the auth secrets and makes the client.
func (s *sender) Open(_ context.Context, host component.OutputHost, _ map[spool.Key]uint64) error {
	s.m.agent = host.AgentID()
	var tc *tls.Config
	if s.cfg.scheme() == "https" {
		tl := s.cfg.TLS
		if tl == nil {
			tl = &tlsconf.Client{}
		}
		u, _ := url.Parse(s.target)
		hostname := ""
		if u != nil {
			hostname = u.Hostname()
		}
		if s.cfg.Protocol == ProtocolGRPC {
			hostname, _, _ = net.SplitHostPort(s.target)
		}
		var err error
		if tc, err = tl.Config(hostname); err != nil {
			return err
		}
	}
	auth, err := httpc.NewAuthorizer(s.cfg.Auth)
	if err != nil {
		return err
	}
	if s.cfg.Protocol == ProtocolGRPC {
		return s.openGRPC(tc, auth)
	}
	tr := httpc.NewTransport(httpc.TransportOptions{TLS: tc, ConnectTimeout: s.cfg.ConnectTimeout, MaxConns: s.cfg.Concurrency})
	headers := http.Header{"User-Agent": {userAgent}}
	for k, v := range s.cfg.Headers {
		headers.Set(k, v)
	}
	ct := "application/x-protobuf"
	if s.m.json {
		ct = "application/json"
	}
	s.t = &httpTransport{m: s.m, url: s.target, contentType: ct, headers: headers, auth: auth, comp: s.comp, tr: tr,
		client: &http.Client{Transport: tr, CheckRedirect: keepMethod}}
	return nil
}

// keepMethod follows a redirect only if it keeps the POST and its body (307,
// 308): a 301, 302 or 303 would turn it into a GET, which sends nothing.
func keepMethod(req *http.Request, via []*http.Request) error {
	if len(via) >= 5 {
		return fmt.Errorf("stopped after %d redirects", len(via))
	}
	if req.Method != via[0].Method {
		return http.ErrUseLastResponse
	}
	return nil
}

func (s *sender) openGRPC(tc *tls.Config, auth *httpc.Authorizer) error {
	creds := insecure.NewCredentials()
	if tc != nil {
		creds = credentials.NewTLS(tc)
	}
	conn, err := grpc.NewClient(s.target,
		grpc.WithTransportCredentials(creds),
		grpc.WithUserAgent(userAgent),
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 100 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 5 * time.Second},
			MinConnectTimeout: s.cfg.ConnectTimeout,
		}),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(16<<20)))
	if err != nil {
		return fmt.Errorf("endpoint: %w", err)
	}
	md := metadata.MD{}
	for k, v := range s.cfg.Headers {
		md.Set(strings.ToLower(k), v)
	}
	comp := ""
	if s.comp.Name() != httpc.None {
		comp = s.comp.Name()
	}
	s.t = &grpcTransport{m: s.m, conn: conn, md: md, auth: auth, compression: comp}
	return nil
}

// Close closes the client's connections.
func (s *sender) Close() error {
	if s.t != nil {
		s.t.close()
	}
	s.comp.Close()
	return nil
}

// Send sends a request once and says how it went.
func (s *sender) Send(ctx context.Context, req *delivery.Request) delivery.Result {
	st := req.Data.(*reqState)
	a := s.t.send(ctx, req.Body, st)
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
	if a.rejected > 0 {
		msg := a.message
		if msg == "" {
			msg = "the destination rejected records without saying why"
		}
		n := int(min(a.rejected, int64(req.Len())))
		msg = fmt.Sprintf("%s (partial success: %d of %d records of the request rejected; OTLP does not say which, these are the last %d in the request)",
			msg, a.rejected, req.Len(), n)
		lastInDocumentOrder(st, n, func(i int) { req.RejectRecord(i, ReasonPartial, msg) })
	} else if a.message != "" {
		s.warnOnce(a.message)
	}
	return delivery.Delivered()
}

// warnOnce logs a partial success that rejected nothing (a warning from the
// destination) at most once a minute.
func (s *sender) warnOnce(msg string) {
	now := time.Now().UnixNano()
	last := s.warned.Load()
	if now-last < int64(time.Minute) || !s.warned.CompareAndSwap(last, now) {
		return
	}
	s.log.Warn("the destination took every record with a warning", zap.String("message", msg))
}

// Metrics reports the connections open to the destination.
func (s *sender) Metrics() []component.Metric {
	if s.t == nil {
		return nil
	}
	return []component.Metric{component.G("connections", s.t.connections())}
}
