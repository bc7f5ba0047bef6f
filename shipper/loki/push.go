package loki

import (
	"strconv"
	"strings"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/capstan-agent/capstan/shipper/delivery"
	"github.com/capstan-agent/capstan/spool"
	"github.com/capstan-agent/capstan/spool/batch"
)

// The push request, as Loki's push.proto (package logproto) defines it;
// Loki's module is AGPL and not imported, the few fields are written by
// hand (lokifake/proto.go decodes them the same way):
//
//	message PushRequest   { repeated StreamAdapter streams = 1; }
//	message StreamAdapter { string labels = 1; repeated EntryAdapter entries = 2; }
//	message EntryAdapter  { Timestamp timestamp = 1; string line = 2;
//	                        repeated LabelPairAdapter structuredMetadata = 3; }
//	message LabelPairAdapter { string name = 1; string value = 2; }
//	message Timestamp     { int64 seconds = 1; int32 nanos = 2; }
//
// A request is one stream (its key): Body holds its entries, each a
// field 2 of StreamAdapter (protobuf) or a [ts, line, {metadata}] array
// (JSON); Send wraps them in the stream and the PushRequest.

// reqState is a request's own state, kept across reuse.
type reqState struct {
	scratch  []byte // an entry being built
	overflow bool   // the overflow stream: label attributes are metadata
	// The structured metadata of the last batch's source, encoded, for
	// records without attributes of their own; a batch is named by its
	// partition, producer and sequence (a request is reused by other
	// partitions).
	partition          spool.Key
	producer, sequence uint64
	srcMeta            []byte
	cached             bool
	cachedOverflow     bool
}

// sourceMeta returns the encoded metadata of rec's source if rec has no
// attributes of its own (the same for every record of its batch), or
// false.
func (e *encoder) sourceMeta(st *reqState, rec *delivery.Record) ([]byte, bool) {
	if rec.Producer == 0 || !noOwnAttrs(rec) {
		return nil, false
	}
	if st.cached && st.producer == rec.Producer && st.sequence == rec.Sequence && st.partition == rec.Partition &&
		st.cachedOverflow == st.overflow {
		return st.srcMeta, true
	}
	b := st.srcMeta[:0]
	n := 0
	e.metadata(rec, st.overflow, func(a batch.Attr) {
		if e.json {
			b = e.appendJSONPair(b, n == 0, st, a)
		} else {
			b = appendPair(b, a)
		}
		n++
	})
	st.srcMeta, st.partition, st.producer, st.sequence = b, rec.Partition, rec.Producer, rec.Sequence
	st.cached, st.cachedOverflow = true, st.overflow
	return b, true
}

// encoder appends records to requests as Loki entries.
type encoder struct {
	*labeler
	json bool
	meta bool // structured metadata
}

func (e *encoder) Encode(req *delivery.Request, rec *delivery.Record) error {
	st, _ := req.Data.(*reqState)
	if st == nil {
		st = &reqState{}
		req.Data = st
	}
	if req.Len() == 0 {
		st.overflow = req.Key() == e.overflowKey
	}
	if e.json {
		req.Body = e.appendJSONEntry(req.Body, req.Len() > 0, st, rec)
		return nil
	}
	req.Body = e.appendEntry(req.Body, st, rec)
	return nil
}

// appendEntry appends rec as field 2 (an EntryAdapter) of StreamAdapter.
func (e *encoder) appendEntry(dst []byte, st *reqState, rec *delivery.Record) []byte {
	s := st.scratch[:0]
	sec, nanos := splitTime(rec.Timestamp)
	tsLen := 0
	if sec != 0 {
		tsLen += 1 + protowire.SizeVarint(uint64(sec))
	}
	if nanos != 0 {
		tsLen += 1 + protowire.SizeVarint(uint64(nanos))
	}
	s = protowire.AppendTag(s, 1, protowire.BytesType)
	s = protowire.AppendVarint(s, uint64(tsLen))
	if sec != 0 {
		s = protowire.AppendTag(s, 1, protowire.VarintType)
		s = protowire.AppendVarint(s, uint64(sec))
	}
	if nanos != 0 {
		s = protowire.AppendTag(s, 2, protowire.VarintType)
		s = protowire.AppendVarint(s, uint64(nanos))
	}
	s = protowire.AppendTag(s, 2, protowire.BytesType)
	s = protowire.AppendBytes(s, rec.Body)
	if e.meta {
		if m, ok := e.sourceMeta(st, rec); ok {
			s = append(s, m...)
		} else {
			e.metadata(rec, st.overflow, func(a batch.Attr) { s = appendPair(s, a) })
		}
	}
	st.scratch = s
	dst = protowire.AppendTag(dst, 2, protowire.BytesType)
	return protowire.AppendBytes(dst, s)
}

// appendPair appends a as a field 3 (a LabelPairAdapter) of EntryAdapter.
func appendPair(s []byte, a batch.Attr) []byte {
	nl := nameLen(a.Key)
	pair := 1 + protowire.SizeVarint(uint64(nl)) + nl + 1 + protowire.SizeVarint(uint64(len(a.Value))) + len(a.Value)
	s = protowire.AppendTag(s, 3, protowire.BytesType)
	s = protowire.AppendVarint(s, uint64(pair))
	s = protowire.AppendTag(s, 1, protowire.BytesType)
	s = protowire.AppendVarint(s, uint64(nl))
	s = appendName(s, a.Key)
	s = protowire.AppendTag(s, 2, protowire.BytesType)
	return protowire.AppendBytes(s, a.Value)
}

// appendJSONPair appends a as a member "name":"value" of the metadata
// object, after a comma unless first.
func (e *encoder) appendJSONPair(dst []byte, first bool, st *reqState, a batch.Attr) []byte {
	if !first {
		dst = append(dst, ',')
	}
	st.scratch = appendName(st.scratch[:0], a.Key)
	dst = delivery.AppendJSONString(dst, st.scratch)
	dst = append(dst, ':')
	return delivery.AppendJSONString(dst, a.Value)
}

// appendJSONEntry appends rec as ["ns", "line", {metadata}].
func (e *encoder) appendJSONEntry(dst []byte, comma bool, st *reqState, rec *delivery.Record) []byte {
	if comma {
		dst = append(dst, ',')
	}
	dst = append(dst, `["`...)
	dst = strconv.AppendInt(dst, rec.Timestamp, 10)
	dst = append(dst, `",`...)
	dst = delivery.AppendJSONString(dst, rec.Body)
	if e.meta {
		if m, ok := e.sourceMeta(st, rec); ok {
			if len(m) > 0 {
				dst = append(append(append(dst, ",{"...), m...), '}')
			}
		} else {
			n := 0
			e.metadata(rec, st.overflow, func(a batch.Attr) {
				if n == 0 {
					dst = append(dst, ",{"...)
				}
				dst = e.appendJSONPair(dst, n == 0, st, a)
				n++
			})
			if n > 0 {
				dst = append(dst, '}')
			}
		}
	}
	return append(dst, ']')
}

// metadata calls fn for each attribute that is structured metadata: the
// record's own, then its source's that the record does not have itself,
// but for those that make labels (unless the record is in the overflow
// stream, which has none of its labels).
func (e *encoder) metadata(rec *delivery.Record, overflow bool, fn func(batch.Attr)) {
	own := rec.Attrs()
	for a, ok := own.NextAttr(); ok; a, ok = own.NextAttr() {
		if overflow || !e.isLabelAttr(a.Key) {
			fn(a)
		}
	}
	src := rec.SourceAttrs()
	for a, ok := src.NextAttr(); ok; a, ok = src.NextAttr() {
		if !overflow && e.isLabelAttr(a.Key) || hasAttr(rec.Attrs(), a.Key) {
			continue
		}
		fn(a)
	}
}

func hasAttr(it batch.AttrIter, key []byte) bool {
	for a, ok := it.NextAttr(); ok; a, ok = it.NextAttr() {
		if string(a.Key) == string(key) {
			return true
		}
	}
	return false
}

// nameLen is len(appendName(nil, s)).
func nameLen(s []byte) int {
	if len(s) == 0 {
		return 1
	}
	if s[0] >= '0' && s[0] <= '9' {
		return len(s) + 1
	}
	return len(s)
}

// splitTime splits unix nanoseconds into a Timestamp's seconds and
// non-negative nanos.
func splitTime(ns int64) (sec int64, nanos int32) {
	sec, r := ns/1e9, ns%1e9
	if r < 0 {
		sec, r = sec-1, r+1e9
	}
	return sec, int32(r)
}

// appendPush appends a PushRequest of one stream: labels and the entries
// in body (as appendEntry wrote them).
func appendPush(dst []byte, labels string, body []byte) []byte {
	stream := 1 + protowire.SizeVarint(uint64(len(labels))) + len(labels) + len(body)
	dst = protowire.AppendTag(dst, 1, protowire.BytesType)
	dst = protowire.AppendVarint(dst, uint64(stream))
	dst = protowire.AppendTag(dst, 1, protowire.BytesType)
	dst = protowire.AppendString(dst, labels)
	return append(dst, body...)
}

// appendJSONStream appends the start of a JSON push of one stream, up to
// its values: {"streams":[{"stream":{labels},"values":[ — the entries
// and jsonEnd follow. labels is a key as appendSet wrote it.
func appendJSONStream(dst []byte, labels string) []byte {
	dst = append(dst, `{"streams":[{"stream":{`...)
	dst = appendLabelsJSON(dst, labels)
	return append(dst, `},"values":[`...)
}

var jsonEnd = []byte("]}]}")

// appendLabelsJSON appends the pairs of a label set written by appendSet
// ({a="x", b="y"}, values Go-quoted) as JSON members: "a":"x","b":"y".
func appendLabelsJSON(dst []byte, set string) []byte {
	s := set[1 : len(set)-1]
	for first := true; len(s) > 0; first = false {
		eq := strings.IndexByte(s, '=')
		if eq < 0 {
			break
		}
		name := s[:eq]
		s = s[eq+1:]
		end := 1 // past the closing quote
		for end < len(s) && s[end] != '"' {
			if s[end] == '\\' {
				end++
			}
			end++
		}
		end = min(end+1, len(s))
		val, err := strconv.Unquote(s[:end])
		if err != nil {
			val = s[:end] // not appendSet's: sent as it is
		}
		s = strings.TrimPrefix(s[end:], ", ")
		if !first {
			dst = append(dst, ',')
		}
		dst = delivery.AppendJSONString(dst, []byte(name))
		dst = append(dst, ':')
		dst = delivery.AppendJSONString(dst, []byte(val))
	}
	return dst
}

// noOwnAttrs says whether rec has no attributes of its own.
func noOwnAttrs(rec *delivery.Record) bool {
	it := rec.Attrs()
	return it.Len() == 0
}
