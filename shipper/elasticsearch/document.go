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

// srcCache is the part of a document a batch's records share: its source
// attributes as fields, encoded once per batch, and the second of the
// last timestamp written.
type srcCache struct {
	frag []byte   // `,"name":value` of each source attribute
	ends []int    // ends[k]: end of attribute k's part of frag
	keys [][]byte // names, into kbuf
	kbuf []byte
	// hasMsg: a source attribute is named message or event.original, which
	// a body that is not an object shadows.
	hasMsg bool

	sec    int64
	secBuf []byte // "2006-01-02T15:04:05" of sec
	hasSec bool
}

// load encodes a batch's source attributes.
func (c *srcCache) load(src batch.AttrIter) {
	c.frag, c.ends, c.keys, c.kbuf, c.hasMsg = c.frag[:0], c.ends[:0], c.keys[:0], c.kbuf[:0], false
	var starts []int
	for a, ok := src.NextAttr(); ok; a, ok = src.NextAttr() {
		key := sourceName(a.Key)
		if bytes.Equal(key, keyTimestamp) {
			continue
		}
		if bytes.Equal(key, keyMessage) || bytes.Equal(key, keyEventOriginal) {
			c.hasMsg = true
		}
		starts = append(starts, len(c.kbuf))
		c.kbuf = append(c.kbuf, key...)
		c.frag = appendField(c.frag, key, a)
		c.ends = append(c.ends, len(c.frag))
	}
	for k, st := range starts {
		end := len(c.kbuf)
		if k+1 < len(starts) {
			end = starts[k+1]
		}
		c.keys = append(c.keys, c.kbuf[st:end])
	}
}

func (c *srcCache) part(k int) []byte {
	start := 0
	if k > 0 {
		start = c.ends[k-1]
	}
	return c.frag[start:c.ends[k]]
}

// appendTimestamp appends ts (unix nanoseconds) as RFC 3339 in UTC with
// the nanoseconds as time.RFC3339Nano writes them (trailing zeros cut).
func (c *srcCache) appendTimestamp(b []byte, ts int64) []byte {
	sec, ns := ts/1e9, ts%1e9
	if ns < 0 {
		sec, ns = sec-1, ns+1e9
	}
	if !c.hasSec || sec != c.sec {
		c.secBuf = time.Unix(sec, 0).UTC().AppendFormat(c.secBuf[:0], "2006-01-02T15:04:05")
		c.sec, c.hasSec = sec, true
	}
	b = append(b, c.secBuf...)
	if ns != 0 {
		var d [10]byte
		d[0] = '.'
		for i := 9; i >= 1; i-- {
			d[i] = byte('0' + ns%10)
			ns /= 10
		}
		n := 10
		for d[n-1] == '0' {
			n--
		}
		b = append(b, d[:n]...)
	}
	return append(b, 'Z')
}

// appendDocument appends rec's document (without a newline); c holds its
// batch's source attributes.
func appendDocument(b []byte, rec *batch.Record, c *srcCache) []byte {
	b = append(b, `{"@timestamp":"`...)
	b = c.appendTimestamp(b, rec.Timestamp)
	b = append(b, '"')
	own := ownKeys{it: rec.Attrs()}
	it := own.it
	for a, ok := it.NextAttr(); ok; a, ok = it.NextAttr() {
		if own.n < len(own.keys) {
			own.keys[own.n] = a.Key
		}
		own.n++
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
			if bytes.Equal(key, keyTimestamp) || own.has(key) {
				continue
			}
			b = append(append(b, ','), member...)
		}
	} else {
		if own.has(keyMessage) {
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
	if own.n == 0 && !object && !c.hasMsg {
		return append(append(b, c.frag...), '}') // nothing shadows a source attribute
	}
	for k, key := range c.keys {
		if own.has(key) {
			continue
		}
		if object {
			if hasMember(body.Value, key) {
				continue
			}
		} else if bytes.Equal(key, keyMessage) || bytes.Equal(key, keyEventOriginal) {
			continue
		}
		b = append(b, c.part(k)...)
	}
	return append(b, '}')
}

func appendField(b, key []byte, a batch.Attr) []byte {
	b = append(b, ',')
	b = batch.AppendJSONString(b, key)
	b = append(b, ':')
	return batch.AppendJSONValue(b, a)
}

// ownKeys are the names of a record's own attributes (the first 16 kept,
// the iterator walked again past that).
type ownKeys struct {
	it   batch.AttrIter
	keys [16][]byte
	n    int
}

func (o *ownKeys) has(key []byte) bool {
	if o.n > len(o.keys) {
		return hasAttr(o.it, key)
	}
	for _, k := range o.keys[:o.n] {
		if bytes.Equal(k, key) {
			return true
		}
	}
	return false
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
