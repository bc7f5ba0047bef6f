package elasticsearch

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/capstan-agent/capstan/component"
	"github.com/capstan-agent/capstan/component/conf"
	"github.com/capstan-agent/capstan/component/tlsconf"
	"github.com/capstan-agent/capstan/shipper/delivery"
	"github.com/capstan-agent/capstan/shipper/httpc"
	"github.com/capstan-agent/capstan/shipper/recordid"
	"github.com/capstan-agent/capstan/spool"
)

// answerLimit bounds a bulk answer read whole. With filter_path an item
// takes ~25 bytes (a refused one its reason too): far more than any bulk
// request of max_records holds. An answer cut short is not read, and the
// request is sent again — its creates then answered 409.
const answerLimit = 64 << 20

// maxIDBytes is Elasticsearch's bound on an _id.
const maxIDBytes = 512

// NewFactory makes the factory of the elasticsearch output type.
func NewFactory() component.OutputFactory {
	return component.NewOutputFactory("elasticsearch", conf.Defaults[Config], func(set component.Settings, c *Config) (component.Output, error) { return New(set, c) })
}

// New makes an elasticsearch output: the delivery engine with the bulk
// encoder and sender. It validates and allocates; connections are made
// when it runs.
func New(set component.Settings, c *Config) (*delivery.Engine, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	comp, err := httpc.NewCompressor(c.Compression, c.Concurrency)
	if err != nil {
		return nil, err
	}
	idx, _ := parseIndex(c.Index) // Validate parsed it
	log := set.Logger
	if log == nil {
		log = zap.NewNop()
	}
	enc := &encoder{index: idx, idField: []byte(c.IDField)}
	s := &sender{cfg: c, enc: enc, urls: c.bulkURLs(), comp: comp, log: log}
	opts := delivery.Options{Config: c.Config, Concurrency: c.Concurrency, Timeout: c.Timeout}
	return delivery.New(set, opts, enc, s), nil
}

// reqState is a request's own state, kept across its reuse.
type reqState struct {
	// The index name of the last record, for a template without fields:
	// it holds while the records' time stays in the same unit.
	unit    int64
	hasUnit bool
	index   []byte
	// The last record's batch: where it is, its origin's seed, its
	// source attributes encoded.
	batch              uint64 // its first offset + 1 (0: none yet)
	part               spool.Key
	producer, sequence uint64
	seed               uint64
	src                srcCache
	scratch            []byte

	zipped []byte
	body   httpc.Body
	answer []byte
	items  []bulkItem
}

// encoder appends a create action and a document per record.
type encoder struct {
	index   indexTemplate
	idField []byte
	agent   [16]byte // set by the sender's Open, before any Encode
}

func (e *encoder) Encode(req *delivery.Request, rec *delivery.Record) error {
	st, _ := req.Data.(*reqState)
	if st == nil {
		st = &reqState{}
		req.Data = st
	}
	first := rec.Offset - uint64(rec.Index)
	if st.batch != first+1 || st.part != rec.Partition || st.producer != rec.Producer || st.sequence != rec.Sequence {
		o := recordid.Of(e.agent, rec.Partition.Stream, rec.Partition.Partition, rec.Producer, rec.Sequence, first, rec.Count)
		st.batch, st.part, st.producer, st.sequence, st.seed = first+1, rec.Partition, rec.Producer, rec.Sequence, o.Seed()
		st.src.load(rec.SourceAttrs())
	}
	start := len(req.Body)
	b := append(req.Body, `{"create":{"_index":"`...)
	idx, err := e.indexOf(st, rec)
	if err != nil {
		req.Body = b[:start]
		return err
	}
	b = append(b, idx...)
	b = append(b, `","_id":`...)
	if id, ok := e.userID(rec); ok {
		if len(id) == 0 || len(id) > maxIDBytes {
			req.Body = b[:start]
			return fmt.Errorf("field %q: an _id is 1 to %d bytes, this one %d", e.idField, maxIDBytes, len(id))
		}
		b = delivery.AppendJSONString(b, id)
	} else {
		b = append(b, '"')
		b = recordid.AppendULID(b, st.seed, rec.Index, rec.Timestamp)
		b = append(b, '"')
	}
	b = append(b, "}}\n"...)
	b = appendDocument(b, &rec.Record, &st.src)
	req.Body = append(b, '\n')
	return nil
}

// indexOf is the record's index name.
func (e *encoder) indexOf(st *reqState, rec *delivery.Record) ([]byte, error) {
	if !e.index.fixed {
		var err error
		st.scratch, err = e.index.expand(st.scratch[:0], rec.Timestamp, rec.Attrs(), rec.SourceAttrs())
		return st.scratch, err
	}
	var unit int64
	if e.index.unit != 0 {
		unit = rec.Timestamp / e.index.unit
		if rec.Timestamp < 0 && rec.Timestamp%e.index.unit != 0 {
			unit--
		}
	}
	if !st.hasUnit || unit != st.unit {
		st.index, _ = e.index.expand(st.index[:0], rec.Timestamp, rec.Attrs(), rec.SourceAttrs())
		st.unit, st.hasUnit = unit, true
	}
	return st.index, nil
}

// userID is the record's id_field, when the output has one and the record
// that field.
func (e *encoder) userID(rec *delivery.Record) ([]byte, bool) {
	if len(e.idField) == 0 {
		return nil, false
	}
	return lookupField(string(e.idField), rec.Attrs(), rec.SourceAttrs())
}

// sender sends bulk requests to the current endpoint, and moves to the
// next when one gives no answer.
type sender struct {
	cfg    *Config
	enc    *encoder
	urls   []string
	comp   *httpc.Compressor
	log    *zap.Logger
	auth   *httpc.Authorizer
	tr     *httpc.Transport
	client *http.Client
	header http.Header
	cur    atomic.Int64 // index into urls
}

// Open loads TLS and the auth secrets and makes the client.
func (s *sender) Open(_ context.Context, host component.OutputHost, _ map[spool.Key]uint64) error {
	s.enc.agent = host.AgentID()
	var tc *tls.Config
	for _, e := range s.cfg.Endpoints {
		u, _ := url.Parse(e)
		if u == nil || u.Scheme != "https" {
			continue
		}
		tl := s.cfg.TLS
		if tl == nil {
			tl = &tlsconf.Client{}
		}
		// One configuration for every node; each is verified by its own
		// name (the transport sets ServerName per host).
		var err error
		if tc, err = tl.Config(""); err != nil {
			return err
		}
		break
	}
	auth, err := s.cfg.Auth.authorizer()
	if err != nil {
		return err
	}
	s.auth = auth
	s.tr = httpc.NewTransport(httpc.TransportOptions{TLS: tc, ConnectTimeout: s.cfg.ConnectTimeout, MaxConns: s.cfg.Concurrency})
	s.client = &http.Client{Transport: s.tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	s.header = http.Header{"User-Agent": {"capstan"}, "Content-Type": {"application/x-ndjson"}}
	for k, v := range s.cfg.Headers {
		s.header.Set(k, v)
	}
	if ce := s.comp.ContentEncoding(); ce != "" {
		s.header.Set("Content-Encoding", ce)
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

// failover moves to the next endpoint if the current one is still at,
// the one a failed request went to.
func (s *sender) failover(at int64, reason string, err error) {
	if len(s.urls) < 2 {
		return
	}
	next := (at + 1) % int64(len(s.urls))
	if s.cur.CompareAndSwap(at, next) {
		s.log.Warn("endpoint failed; the next requests go to the next one", zap.String("endpoint", s.cfg.Endpoints[at]),
			zap.String("next", s.cfg.Endpoints[next]), zap.String("reason", reason), zap.Error(err))
	}
}

// Send sends a request once and reads the answer item by item.
func (s *sender) Send(ctx context.Context, req *delivery.Request) delivery.Result {
	st := req.Data.(*reqState)
	at := s.cur.Load()
	st.body.Parts = [3][]byte{req.Body}
	if s.comp.Name() != httpc.None {
		st.zipped = s.comp.Append(st.zipped[:0], req.Body)
		st.body.Parts = [3][]byte{st.zipped}
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, s.urls[at], st.body.Reset())
	if err != nil {
		return delivery.Retry("request", err)
	}
	hreq.ContentLength = st.body.Len()
	hreq.GetBody = func() (io.ReadCloser, error) { return st.body.Reset(), nil }
	for k, v := range s.header {
		hreq.Header[k] = v
	}
	if err := s.auth.Apply(hreq.Header); err != nil {
		return delivery.Retry("auth", err)
	}
	resp, err := s.client.Do(hreq)
	defer st.body.Finish()
	if err != nil {
		reason := httpc.ErrorReason(err)
		if reason != "canceled" {
			s.failover(at, reason, err)
		}
		return delivery.Retry(reason, err)
	}
	st.answer = httpc.ReadBody(resp, st.answer, answerLimit)
	if resp.StatusCode/100 != 2 {
		return s.status(at, resp, st.answer)
	}
	return s.items(req, st)
}

// status classes an answer that is not a 2xx: the whole request failed.
func (s *sender) status(at int64, resp *http.Response, body []byte) delivery.Result {
	code := resp.StatusCode
	reason := "http_" + strconv.Itoa(code)
	err := statusError(code, body)
	switch {
	case code == http.StatusRequestEntityTooLarge:
		return delivery.TooLarge(err)
	case code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500:
		if code == http.StatusBadGateway || code == http.StatusServiceUnavailable || code == http.StatusGatewayTimeout {
			s.failover(at, reason, err)
		}
		r := delivery.Retry(reason, err)
		if d, ok := httpc.RetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
			r = r.After(d)
		}
		return r
	}
	return delivery.Reject(reason, err)
}

// items acts on a 2xx answer item by item: a 200 with errors: true is not
// a success.
func (s *sender) items(req *delivery.Request, st *reqState) delivery.Result {
	if allCreated(st.answer, req.Len()) {
		return delivery.Delivered()
	}
	errs, items, err := readBulk(st.answer, st.items)
	st.items = items
	if err != nil {
		// The node may have written some of it: sent again, what it
		// wrote answers 409.
		return delivery.Retry("answer", fmt.Errorf("%w: %s", err, httpc.Snippet(st.answer)))
	}
	n := req.Len()
	if !errs && len(items) == n {
		return delivery.Delivered()
	}
	for i := range n {
		if i >= len(items) {
			req.RetryRecord(i, "item_missing")
			continue
		}
		it := &items[i]
		switch c := it.status; {
		case c >= 200 && c < 300:
		case c == http.StatusConflict:
			req.DuplicateRecord(i)
		case c == http.StatusTooManyRequests || c >= 500:
			req.RetryRecord(i, "item_"+strconv.Itoa(c))
		default:
			req.RejectRecord(i, itemReason(it), itemDetail(it))
		}
	}
	if len(items) > n {
		s.log.Warn("the bulk answer has more items than the request", zap.Int("items", len(items)), zap.Int("records", n))
	}
	return delivery.Delivered()
}

// itemReason is the label of a refused item: Elasticsearch's error type
// (a class name, such as document_parsing_exception), or item_<status>.
func itemReason(it *bulkItem) string {
	t := it.typ
	ok := len(t) > 0 && len(t) <= 64
	for _, c := range t {
		if !(c >= 'a' && c <= 'z' || c == '_' || c >= '0' && c <= '9') {
			ok = false
			break
		}
	}
	if ok {
		return string(t)
	}
	return "item_" + strconv.Itoa(it.status)
}

func itemDetail(it *bulkItem) string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "status %d", it.status)
	if len(it.typ) > 0 {
		fmt.Fprintf(&b, " %s", it.typ)
	}
	if len(it.cause) > 0 {
		fmt.Fprintf(&b, ": %s", it.cause)
	}
	return b.String()
}

func statusError(code int, body []byte) error {
	if msg := httpc.Snippet(body); msg != "" {
		return fmt.Errorf("HTTP %d: %s", code, msg)
	}
	return fmt.Errorf("HTTP %d %s", code, http.StatusText(code))
}

// Metrics reports the connections open to the nodes.
func (s *sender) Metrics() []component.Metric {
	if s.tr == nil {
		return nil
	}
	return []component.Metric{component.G("connections", s.tr.Open())}
}
