package esfake

import (
	"bytes"
	"compress/flate"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/klauspost/compress/gzip"
)

// bulkParams are the query parameters _bulk takes; any other is refused as
// Elasticsearch refuses it.
var bulkParams = map[string]bool{
	"pipeline": true, "refresh": true, "routing": true, "timeout": true, "wait_for_active_shards": true,
	"_source": true, "_source_excludes": true, "_source_includes": true, "require_alias": true,
	"require_data_stream": true, "list_executed_pipelines": true, "include_source_on_error": true,
	"filter_path": true, "pretty": true, "human": true, "error_trace": true,
}

// bulkContentType reports whether _bulk accepts a Content-Type.
func (f *Fake) bulkContentType(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	switch mt {
	case "application/json", "application/x-ndjson":
		return true
	case "application/vnd.elasticsearch+json", "application/vnd.elasticsearch+x-ndjson":
		return f.opts.Flavor == Elasticsearch
	}
	return false
}

type bulkState struct {
	body    []byte
	items   []item
	results []result
	out     []byte
	parser  bulkParser
	cache   itemCache
}

func (f *Fake) getState() *bulkState {
	if s, ok := f.bufs.Get().(*bulkState); ok {
		return s
	}
	return &bulkState{}
}

func (f *Fake) putState(s *bulkState) {
	if cap(s.body) > 64<<20 {
		s.body = nil // do not pin a huge body
	}
	s.items, s.results = s.items[:0], s.results[:0]
	f.bufs.Put(s)
}

func (f *Fake) serveBulk(w http.ResponseWriter, r *http.Request, defaultIndex string) {
	start := time.Now()
	q := r.URL.Query()
	for k := range q {
		if !bulkParams[k] {
			e := illegalArgument(fmt.Sprintf("request [%s] contains unrecognized parameter: [%s]", r.URL.Path, k))
			f.countRequest(e.Status, 0)
			f.writeError(w, r, e)
			return
		}
	}
	if ct := r.Header.Get("Content-Type"); !f.bulkContentType(ct) {
		msg := fmt.Sprintf("Content-Type header [%s] is not supported", ct)
		if ct == "" {
			msg = "Content-Type header is missing"
		}
		f.writeSimpleError(w, r, http.StatusNotAcceptable, msg)
		return
	}
	st := f.getState()
	defer f.putState(st)
	wire, tooLarge, err := f.readBody(r, st)
	if err != nil {
		f.countRequest(http.StatusBadRequest, wire)
		f.writeError(w, r, badRequest("parse_exception", fmt.Sprintf("esfake: reading the request body: %v", err)))
		return
	}
	if tooLarge {
		// Netty's aggregator: 413, no body, and the connection is closed.
		f.countRequest(http.StatusRequestEntityTooLarge, wire)
		w.Header().Set("Connection", "close")
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(http.StatusRequestEntityTooLarge)
		return
	}
	f.mu.Lock()
	f.stats.BytesDecoded += int64(len(st.body))
	f.mu.Unlock()
	fault := f.nextFault()
	switch {
	case fault.Reset:
		f.countRequest(0, wire)
		resetConn(w)
		return
	case fault.Hang:
		f.countRequest(0, wire)
		select {
		case <-r.Context().Done():
		case <-f.closing:
		}
		return
	case fault.Status == http.StatusRequestEntityTooLarge:
		f.countRequest(fault.Status, wire)
		w.Header().Set("Connection", "close")
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(fault.Status)
		return
	case fault.Status != 0:
		f.countRequest(fault.Status, wire)
		f.writeError(w, r, statusError(fault.Status, len(st.body)))
		return
	}
	if len(st.body) == 0 {
		f.countRequest(http.StatusBadRequest, wire)
		f.writeError(w, r, badRequest("parse_exception", "request body is required"))
		return
	}
	st.parser.precheck, st.parser.borrowIDs = f.opts.StorageOff, f.opts.StorageOff
	items, e := st.parser.parse(st.body, defaultIndex, st.items[:0])
	st.items = items
	if e != nil {
		f.countRequest(e.Status, wire)
		f.writeError(w, r, e)
		return
	}
	// The query's pipeline and require_alias apply to every item without its own.
	if p := q.Get("pipeline"); p != "" {
		for i := range items {
			if items[i].pipeline == "" {
				items[i].pipeline = p
			}
		}
	}
	if q.Get("require_alias") == "true" {
		for i := range items {
			items[i].requireAlias = true
		}
	}
	st.results = f.applyAll(items, fault, st.results[:0])
	anyErr := false
	for i := range st.results {
		if st.results[i].err != nil {
			anyErr = true
			break
		}
	}
	took := time.Since(start).Milliseconds()
	fp := q.Get("filter_path")
	st.cache.reset(fp)
	st.out = appendBulkResponse(st.out[:0], parseFilterPath(fp), f.opts.Flavor, took, anyErr, st.results, &st.cache)
	if fault.Delay > 0 {
		t := time.NewTimer(fault.Delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
		case <-f.closing:
		}
		t.Stop()
	}
	if fault.ResetAfterApply {
		f.countRequest(0, wire)
		resetConn(w)
		return
	}
	f.countRequest(http.StatusOK, wire)
	writeJSON(w, r, http.StatusOK, st.out)
}

// applyAll runs the items in order under the lock, consulting the scripted
// item faults and the rule, and counts what happened.
func (f *Fake) applyAll(items []item, fault Fault, out []result) []result {
	f.mu.Lock()
	defer f.mu.Unlock()
	req := f.reqSeq - 1
	var counts itemCounts
	defer counts.flush(&f.stats)
	var lastName string
	var lastIx *index
	for i := range items {
		if i%touchBatch == 0 && f.opts.StorageOff {
			f.st.touch(items[i:min(i+touchBatch, len(items))])
		}
		it := &items[i]
		kind, scripted := fault.Items[i]
		if !scripted && f.rule != nil {
			id := strings.Clone(it.id) // the rule may keep it; it.id may borrow the body
			if !it.hasID {
				id = ""
			}
			kind = f.rule(Item{Seq: f.itemSeq, Request: req, Pos: i, Action: it.op.String(), Index: it.index, ID: id})
		}
		f.itemSeq++
		res := f.st.apply(it, kind)
		out = append(out, res)
		f.stats.countItem(&res)
		if lastIx == nil || it.index != lastName {
			lastName, lastIx = it.index, f.st.indices[it.index]
		}
		counts.add(res.status, lastIx)
	}
	return out
}

// readBody reads and decompresses the body into st.body. It stops at the
// limit: tooLarge is then true. wire is the number of bytes read off the
// connection.
func (f *Fake) readBody(r *http.Request, st *bulkState) (wire int64, tooLarge bool, err error) {
	limit := f.opts.MaxContentLength
	enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding")))
	identity := enc == "" || enc == "identity"
	if identity && r.ContentLength > limit {
		return 0, true, nil
	}
	counted := &countingReader{r: r.Body}
	var src io.Reader = counted
	switch enc {
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(counted)
		if err != nil {
			return counted.n, false, fmt.Errorf("gzip: %w", err)
		}
		defer zr.Close()
		src = zr
	case "deflate", "x-deflate":
		zr := flate.NewReader(counted)
		defer zr.Close()
		src = zr
	}
	// Any other Content-Encoding is passed through undecoded, as Netty does.
	if identity && r.ContentLength > 0 && cap(st.body) < int(r.ContentLength)+bytes.MinRead {
		// Room for the body and ReadFrom's last read, which sees EOF.
		st.body = make([]byte, 0, int(r.ContentLength)+bytes.MinRead)
	}
	buf := bytes.NewBuffer(st.body[:0])
	n, err := buf.ReadFrom(io.LimitReader(src, limit+1))
	st.body = buf.Bytes()
	if err != nil {
		return counted.n, false, err
	}
	if n > limit {
		io.Copy(io.Discard, io.LimitReader(r.Body, 1<<20))
		return counted.n, true, nil
	}
	return counted.n, false, nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// resetConn drops the connection with a TCP RST (SO_LINGER 0).
func resetConn(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(errors.New("esfake: the ResponseWriter cannot be hijacked (HTTP/2?)"))
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		return
	}
	raw := conn
	if tc, ok := conn.(*tls.Conn); ok {
		raw = tc.NetConn()
	}
	if tcp, ok := raw.(*net.TCPConn); ok {
		tcp.SetLinger(0)
	}
	raw.Close()
}
