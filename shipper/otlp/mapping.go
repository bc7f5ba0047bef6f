package otlp

import (
	"bytes"
	"hash/maphash"
	"strings"

	"github.com/capstan-agent/capstan/shipper/httpc"
	"github.com/capstan-agent/capstan/shipper/recordid"
	"github.com/capstan-agent/capstan/spool"
	"github.com/capstan-agent/capstan/spool/batch"
)

// mapping is how records become LogRecords; it is fixed when the output is
// made (the agent id is set when it runs) and shared by its senders.
type mapping struct {
	json     bool      // OTLP/JSON instead of protobuf
	resource []namePat // source attributes that make the Resource
	severity []string  // attributes a severity is read from, first match wins
	uid      bool      // add log.record.uid
	agent    [16]byte  // for the producer of batches without one
	seed     maphash.Seed
}

func newMapping(json bool, resource, severity []string, uid bool) *mapping {
	return &mapping{json: json, resource: newPatterns(resource), severity: severity, uid: uid, seed: maphash.MakeSeed()}
}

// namePat is an attribute name, or a prefix when it ends in '*'.
type namePat struct {
	s      string
	prefix bool
}

func newPatterns(names []string) []namePat {
	out := make([]namePat, len(names))
	for i, n := range names {
		if p, ok := strings.CutSuffix(n, "*"); ok {
			out[i] = namePat{p, true}
		} else {
			out[i] = namePat{n, false}
		}
	}
	return out
}

func (m *mapping) isResource(key []byte) bool {
	for _, p := range m.resource {
		if p.prefix && bytes.HasPrefix(key, []byte(p.s)) || !p.prefix && string(key) == p.s {
			return true
		}
	}
	return false
}

// severityRank is the place of key in the severity list; len(list) if it
// is not there.
func (m *mapping) severityRank(key []byte) int {
	for i, s := range m.severity {
		if string(key) == s {
			return i
		}
	}
	return len(m.severity)
}

// sourceName is the OpenTelemetry name of a source attribute: the file
// input's path is log.file.path; the others are named so already
// (host.name, k8s.*, container.id) or are the user's.
func sourceName(key []byte) []byte {
	if string(key) == "path" {
		return keyLogFilePath
	}
	return key
}

// AttrRecordUID is the attribute that names a record by where it came
// from (OpenTelemetry semantic conventions); shipper/recordid makes it.
const AttrRecordUID = "log.record.uid"

var (
	keyLogFilePath = []byte("log.file.path")
	keyRecordUID   = []byte(AttrRecordUID)
)

// view is a record as the encoder reads it: the engine's record view.
type view struct {
	*batch.Record
	src                batch.AttrIter
	part               spool.Key
	producer, sequence uint64
	index, count       int
}

// reqState is what a request holds besides its body: its Resource groups,
// where each record is, and the encoding of the batch its last record came
// from. It is reused with the request.
type reqState struct {
	groups  []group // groups[:ngroups] are in use, in the order first seen
	ngroups int
	recs    []recInfo
	cur     batchInfo
	scratch []byte

	payload, zipped, answer []byte
	body                    httpc.Body
}

// group is the records of one Resource in a request.
type group struct {
	res   []byte // the Resource's content: protobuf attribute fields, or JSON items
	hash  uint64
	bytes int // of its records in the body
	n     int
}

type recInfo struct {
	group int32
	end   int32 // len(body) after the record
}

// batchInfo is what all records of one batch share.
type batchInfo struct {
	valid bool
	part  spool.Key
	base  uint64
	group int32
	org   recordid.Origin
	seed  uint64 // org.seed()

	// Source attributes that are not the Resource's: the encoded
	// attribute of each (extra[ends[k-1]:ends[k]]) and its key.
	extra   []byte
	ends    []int
	keys    []byte
	keyEnds []int

	sev     batch.Attr // the source's severity attribute, if hasSev
	sevBuf  []byte
	hasSev  bool
	sevRank int
}

func (s *reqState) reset() {
	s.ngroups = 0
	s.recs = s.recs[:0]
	s.cur.valid = false
}

// extraKey is the key of extra attribute k.
func (b *batchInfo) extraKey(k int) []byte {
	start := 0
	if k > 0 {
		start = b.keyEnds[k-1]
	}
	return b.keys[start:b.keyEnds[k]]
}

func (b *batchInfo) extraBytes(k int) []byte {
	start := 0
	if k > 0 {
		start = b.ends[k-1]
	}
	return b.extra[start:b.ends[k]]
}

// loadBatch reads the source attributes of v's batch: its Resource (found
// among the request's groups, or added), the other attributes, the
// source's severity and the record's origin.
func (m *mapping) loadBatch(s *reqState, v *view) {
	c := &s.cur
	c.valid, c.part, c.base = true, v.part, v.Offset-uint64(v.index)
	c.extra, c.ends, c.keys, c.keyEnds = c.extra[:0], c.ends[:0], c.keys[:0], c.keyEnds[:0]
	c.hasSev, c.sevRank = false, len(m.severity)
	c.org = recordid.Of(m.agent, v.part.Stream, v.part.Partition, v.producer, v.sequence, c.base, v.count)
	c.seed = c.org.Seed()
	res := s.scratch[:0]
	it := v.src
	first := true
	for a, ok := it.NextAttr(); ok; a, ok = it.NextAttr() {
		key := sourceName(a.Key)
		if r := m.severityRank(a.Key); r < c.sevRank {
			c.sevBuf = append(c.sevBuf[:0], a.Value...)
			c.sev, c.hasSev, c.sevRank = batch.Attr{Value: c.sevBuf, Kind: a.Kind}, true, r
		}
		if m.isResource(key) {
			if m.json {
				if !first {
					res = append(res, ',')
				}
				res = appendKeyValueJSON(res, key, a)
			} else {
				res = appendKeyValue(res, fResourceAttributes, key, a)
			}
			first = false
			continue
		}
		if m.json {
			c.extra = appendKeyValueJSON(c.extra, key, a)
		} else {
			c.extra = appendKeyValue(c.extra, fLogAttributes, key, a)
		}
		c.ends = append(c.ends, len(c.extra))
		c.keys = append(c.keys, key...)
		c.keyEnds = append(c.keyEnds, len(c.keys))
	}
	s.scratch = res
	h := maphash.Bytes(m.seed, res)
	for g := 0; g < s.ngroups; g++ {
		if s.groups[g].hash == h && bytes.Equal(s.groups[g].res, res) {
			c.group = int32(g)
			return
		}
	}
	if s.ngroups == len(s.groups) {
		s.groups = append(s.groups, group{})
	}
	g := &s.groups[s.ngroups]
	g.res, g.hash, g.bytes, g.n = append(g.res[:0], res...), h, 0, 0
	c.group = int32(s.ngroups)
	s.ngroups++
}

// encode appends the record v to body as a LogRecord of the request whose
// state is s.
func (m *mapping) encode(body []byte, s *reqState, v *view) []byte {
	if c := &s.cur; !c.valid || c.part != v.part || c.base != v.Offset-uint64(v.index) {
		m.loadBatch(s, v)
	}
	start := len(body)
	if m.json {
		body = m.appendRecordJSON(body, s, v)
	} else {
		body = m.appendRecordProto(body, s, v)
	}
	g := &s.groups[s.cur.group]
	g.bytes += len(body) - start
	g.n++
	s.recs = append(s.recs, recInfo{group: s.cur.group, end: int32(len(body))})
	return body
}
