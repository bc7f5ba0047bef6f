package elasticsearch

import (
	"bytes"
	"time"

	"github.com/capstan-agent/capstan/spool/batch"
)

// A record becomes a document (docs/output-elasticsearch.md, "Documents"):
//
//	@timestamp   the record's time, RFC 3339 with nanoseconds, UTC
//	its own attributes, as fields with their kinds
//	message      the body (a string) — event.original when the record has
//	             a message attribute of its own — or, for a JSON object
//	             body (a parsed line), the object's fields
//	its source's attributes (the file input's path as log.file.path)
//
// A name is written once, the first of that order winning: a record's own
// attribute over its body's field, a body's field over a source attribute.

var (
	keyTimestamp     = []byte("@timestamp")
	keyMessage       = []byte("message")
	keyEventOriginal = []byte("event.original")
	keyPath          = []byte("path")
	keyLogFilePath   = []byte("log.file.path")
)

func sourceName(key []byte) []byte {
	if bytes.Equal(key, keyPath) {
		return keyLogFilePath
	}
	return key
}

// appendDocument appends rec's document (without a newline).
func appendDocument(b []byte, rec *batch.Record, src batch.AttrIter) []byte {
	b = append(b, `{"@timestamp":"`...)
	b = time.Unix(0, rec.Timestamp).UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, '"')
	own := rec.Attrs()
	it := own
	for a, ok := it.NextAttr(); ok; a, ok = it.NextAttr() {
		if bytes.Equal(a.Key, keyTimestamp) {
			continue
		}
		b = appendField(b, a.Key, a)
	}
	body := rec.BodyValue()
	object := body.Kind == batch.KindJSON && len(body.Value) > 1 && body.Value[0] == '{'
	if object {
		m := members{b: body.Value[1 : len(body.Value)-1]}
		for key, member, ok := m.next(); ok; key, member, ok = m.next() {
			if bytes.Equal(key, keyTimestamp) || hasAttr(own, key) {
				continue
			}
			b = append(append(b, ','), member...)
		}
	} else {
		if hasAttr(own, keyMessage) {
			b = append(b, `,"event.original":`...)
		} else {
			b = append(b, `,"message":`...)
		}
		switch body.Kind {
		case batch.KindNull:
			b = append(b, "null"...)
		default:
			b = batch.AppendJSONString(b, body.Value)
		}
	}
	for a, ok := src.NextAttr(); ok; a, ok = src.NextAttr() {
		key := sourceName(a.Key)
		if bytes.Equal(key, keyTimestamp) || hasAttr(own, key) {
			continue
		}
		if object {
			if hasMember(body.Value, key) {
				continue
			}
		} else if bytes.Equal(key, keyMessage) || bytes.Equal(key, keyEventOriginal) {
			continue
		}
		b = appendField(b, key, a)
	}
	return append(b, '}')
}

func appendField(b, key []byte, a batch.Attr) []byte {
	b = append(b, ',')
	b = batch.AppendJSONString(b, key)
	b = append(b, ':')
	return batch.AppendJSONValue(b, a)
}

func hasAttr(it batch.AttrIter, key []byte) bool {
	for a, ok := it.NextAttr(); ok; a, ok = it.NextAttr() {
		if bytes.Equal(a.Key, key) {
			return true
		}
	}
	return false
}

func hasMember(obj, key []byte) bool {
	m := members{b: obj[1 : len(obj)-1]}
	for k, _, ok := m.next(); ok; k, _, ok = m.next() {
		if bytes.Equal(k, key) {
			return true
		}
	}
	return false
}

// members walks the members of a compact, valid JSON object (a KindJSON
// value, without its braces): key is the name as written between its
// quotes (escapes not decoded: a name with escapes only ever equals
// itself), member the whole "name":value.
type members struct {
	b []byte
	i int
}

func (m *members) next() (key, member []byte, ok bool) {
	b := m.b
	i := m.i
	if i < len(b) && b[i] == ',' {
		i++
	}
	if i >= len(b) || b[i] != '"' {
		return nil, nil, false
	}
	start := i
	end := skipString(b, i)
	key = b[i+1 : end-1]
	i = end + 1 // the colon
	i = skipValue(b, i)
	m.i = i
	return key, b[start:i], true
}

// skipString returns the index past the string starting at b[i] ('"').
func skipString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(b)
}

// skipValue returns the index past the compact value starting at b[i].
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return len(b)
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				i = skipString(b, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
		}
		return len(b)
	}
	for ; i < len(b) && b[i] != ',' && b[i] != '}' && b[i] != ']'; i++ {
	}
	return i
}
