package kafka

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/capstan-agent/capstan/shipper/delivery"
	"github.com/capstan-agent/capstan/spool"
)

// encoder appends a record's key, header values and value to a request's
// body; where each lies is in the request's reqState, from which the sender
// builds Kafka records without copying.
type encoder struct {
	topic   topicTemplate
	fixed   string // the topic when the template reads no field
	key     string
	headers []string // names, or prefixes ending in '*'
	json    bool
}

// srcCache holds copies of the source attributes of one batch that the
// encoder reads (the topic's fields, the key, the headers): every record of
// a batch shares them, so they are looked up once a batch, not once a
// record.
type srcCache struct {
	valid bool
	part  spool.Key
	base  uint64 // the batch's first offset
	buf   []byte
	attrs []cachedAttr
}

type cachedAttr struct{ key, value span }

// load caches what rec's batch gives its records, if it is not cached.
func (c *srcCache) load(e *encoder, rec *delivery.Record) {
	base := rec.Offset - uint64(rec.Index)
	if c.valid && c.base == base && c.part == rec.Partition {
		return
	}
	c.valid, c.base, c.part = true, base, rec.Partition
	c.buf, c.attrs = c.buf[:0], c.attrs[:0]
	src := rec.SourceAttrs()
	for a, ok := src.NextAttr(); ok; a, ok = src.NextAttr() {
		if !e.reads(a.Key) {
			continue
		}
		k := len(c.buf)
		c.buf = append(c.buf, a.Key...)
		v := len(c.buf)
		c.buf = append(c.buf, a.Value...)
		c.attrs = append(c.attrs, cachedAttr{key: span{k, v}, value: span{v, len(c.buf)}})
	}
}

func (c *srcCache) get(name string) ([]byte, bool) {
	for _, a := range c.attrs {
		if string(c.buf[a.key.start:a.key.end]) == name {
			return c.buf[a.value.start:a.value.end], true
		}
	}
	return nil, false
}

// reads reports whether the encoder reads the field name.
func (e *encoder) reads(name []byte) bool {
	if string(name) == e.key || e.header(name) {
		return true
	}
	for _, p := range e.topic.parts {
		if p.ref != "" && string(name) == p.ref {
			return true
		}
	}
	return false
}

// field is the value of field name of rec: its own attribute, or its
// source's from the cache.
func (s *reqState) field(rec *delivery.Record, name string) ([]byte, bool) {
	own := rec.Attrs()
	for a, ok := own.NextAttr(); ok; a, ok = own.NextAttr() {
		if string(a.Key) == name {
			return a.Value, true
		}
	}
	return s.src.get(name)
}

// span is a part of a request's body.
type span struct{ start, end int }

// recMeta is where record i of a request lies in its body.
type recMeta struct {
	topic   string
	key     span
	hasKey  bool
	value   span
	hdrs    span // indexes into reqState.hdrs
	ts      int64
	tooBig  bool
	dup     bool // already in Kafka (exactly once)
	hdrSize int
}

type hdrMeta struct {
	key   string
	value span
}

// reqState is the kafka output's state of a request, reused with it.
type reqState struct {
	recs    []recMeta
	hdrs    []hdrMeta
	topic   []byte
	names   map[string]string // interned topic and header names
	krecs   []kgo.Record
	khdrs   []kgo.RecordHeader
	results []error
	wg      sync.WaitGroup
	promise func(*kgo.Record, error) // records results[i] of krecs[i]
	src     srcCache
	rec     *delivery.Record // the record being encoded, for get
	get     func(name string) ([]byte, bool)
}

func (s *reqState) reset() {
	s.recs, s.hdrs = s.recs[:0], s.hdrs[:0]
}

// intern returns b as a string, made once per request's life.
func (s *reqState) intern(b []byte) string {
	if v, ok := s.names[string(b)]; ok {
		return v
	}
	if s.names == nil || len(s.names) > 4096 {
		s.names = map[string]string{}
	}
	v := string(b)
	s.names[v] = v
	return v
}

func state(req *delivery.Request) *reqState {
	s, _ := req.Data.(*reqState)
	if s == nil {
		s = &reqState{}
		req.Data = s
	}
	if req.Len() == 0 {
		s.reset()
	}
	return s
}

// recordOverhead is what Kafka's record format adds to a record besides its
// key, value and headers, at most (varint lengths, attributes, deltas).
const recordOverhead = 32

func (e *encoder) Encode(req *delivery.Request, rec *delivery.Record) error {
	s := state(req)
	m := recMeta{topic: e.fixed, ts: rec.Timestamp}
	if e.fixed == "" || e.key != "" || len(e.headers) > 0 {
		s.src.load(e, rec)
	}
	if e.fixed == "" {
		if s.get == nil {
			s.get = func(name string) ([]byte, bool) { return s.field(s.rec, name) }
		}
		s.rec = rec
		var missing string
		s.topic, missing = e.topic.expand(s.topic[:0], s.get)
		s.rec = nil
		switch {
		case missing != "":
			return fmt.Errorf("the record has no field %s for the topic %s", missing, e.topic)
		case len(s.topic) == 0 || len(s.topic) > maxTopicLen || string(s.topic) == "." || string(s.topic) == "..":
			return fmt.Errorf("the topic %s makes %q, which is not a topic name", e.topic, s.topic)
		}
		m.topic = s.intern(s.topic)
	}
	start := len(req.Body)
	if e.key != "" {
		if v, ok := s.field(rec, e.key); ok {
			req.Body = append(req.Body, v...)
			m.key, m.hasKey = span{start, len(req.Body)}, true
		}
	}
	m.hdrs.start = len(s.hdrs)
	if len(e.headers) > 0 {
		add := func(k, v []byte) {
			st := len(req.Body)
			req.Body = append(req.Body, v...)
			s.hdrs = append(s.hdrs, hdrMeta{key: s.intern(k), value: span{st, len(req.Body)}})
			m.hdrSize += len(k) + len(v) + 10
		}
		c := &s.src
		for _, a := range c.attrs {
			if k := c.buf[a.key.start:a.key.end]; e.header(k) {
				add(k, c.buf[a.value.start:a.value.end])
			}
		}
		own := rec.Attrs()
		for a, ok := own.NextAttr(); ok; a, ok = own.NextAttr() {
			if e.header(a.Key) {
				add(a.Key, a.Value)
			}
		}
	}
	m.hdrs.end = len(s.hdrs)
	vs := len(req.Body)
	if e.json {
		req.Body = delivery.AppendJSON(req.Body, rec)
	} else {
		req.Body = append(req.Body, rec.Body...)
	}
	m.value = span{vs, len(req.Body)}
	s.recs = append(s.recs, m)
	return nil
}

// header reports whether a field named name is sent as a header.
func (e *encoder) header(name []byte) bool {
	for _, h := range e.headers {
		if p, ok := strings.CutSuffix(h, "*"); ok {
			if len(name) >= len(p) && string(name[:len(p)]) == p {
				return true
			}
		} else if string(name) == h {
			return true
		}
	}
	return false
}

// records fills s.krecs with the request's Kafka records, pointing into its
// body; max is the largest record size taken (a larger one is marked tooBig).
func (s *reqState) records(req *delivery.Request, max int) []kgo.Record {
	n := len(s.recs)
	if cap(s.krecs) < n {
		s.krecs = make([]kgo.Record, n)
	}
	s.krecs = s.krecs[:n]
	if cap(s.khdrs) < len(s.hdrs) {
		s.khdrs = make([]kgo.RecordHeader, len(s.hdrs))
	}
	s.khdrs = s.khdrs[:len(s.hdrs)]
	for i, h := range s.hdrs {
		s.khdrs[i] = kgo.RecordHeader{Key: h.key, Value: req.Body[h.value.start:h.value.end:h.value.end]}
	}
	for i := range s.recs {
		m := &s.recs[i]
		r := &s.krecs[i]
		*r = kgo.Record{Topic: m.topic, Timestamp: time.Unix(0, m.ts),
			Value: req.Body[m.value.start:m.value.end:m.value.end]}
		if m.hasKey {
			r.Key = req.Body[m.key.start:m.key.end:m.key.end]
		}
		if m.hdrs.end > m.hdrs.start {
			r.Headers = s.khdrs[m.hdrs.start:m.hdrs.end:m.hdrs.end]
		}
		m.tooBig = len(r.Key)+len(r.Value)+m.hdrSize+recordOverhead > max
	}
	return s.krecs
}
