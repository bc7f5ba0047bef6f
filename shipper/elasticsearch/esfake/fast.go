package esfake

import (
	"bytes"
	"encoding/binary"
	"strconv"
	"unsafe"
)

// Fast paths for what bulk clients send almost always. Each one either
// gives exactly the answer of the general code or declines (ok false), and
// FuzzParseBulk checks that they agree; they exist so that the fake costs
// a fraction of what an output under benchmark costs.

// fastAction reads an action line of the form
// {"create|index|delete":{"_index":"…","_id":"…"}} (either order, either
// key optional, plain strings without escapes, no spaces).
func (p *bulkParser) fastAction(b []byte, line int, defaultIndex string) (it item, ok bool) {
	if len(b) > 0 && b[len(b)-1] == '\r' {
		b = b[:len(b)-1]
	}
	if len(b) < 6 || b[0] != '{' || b[1] != '"' || !bytes.HasSuffix(b, []byte("}}")) || !plainASCII(b) {
		return it, false
	}
	rest := b[2:]
	switch {
	case bytes.HasPrefix(rest, []byte(`create":{`)):
		it.op, it.action, rest = opCreate, "create", rest[9:]
	case bytes.HasPrefix(rest, []byte(`index":{`)):
		it.op, it.action, rest = opIndex, "index", rest[8:]
	case bytes.HasPrefix(rest, []byte(`delete":{`)):
		it.op, it.action, rest = opDelete, "delete", rest[9:]
	default:
		return it, false
	}
	rest = rest[:len(rest)-2] // the two closing braces
	it.index, it.line = defaultIndex, line
	it.ifSeqNo, it.ifPrimaryTerm = unassigned, unassigned
	seen := 0
	for len(rest) > 0 {
		if seen > 0 {
			if rest[0] != ',' {
				return it, false
			}
			rest = rest[1:]
		}
		var key, val []byte
		if key, rest, ok = plainString(rest); !ok || len(rest) == 0 || rest[0] != ':' {
			return it, false
		}
		if val, rest, ok = plainString(rest[1:]); !ok {
			return it, false
		}
		switch string(key) {
		case "_index":
			if seen&1 != 0 {
				return it, false
			}
			seen |= 1
			it.index = p.intern(val)
		case "_id":
			if seen&2 != 0 {
				return it, false
			}
			seen |= 2
			it.id, it.hasID = p.idString(val), true
		default:
			return it, false
		}
	}
	return it, true
}

// plainString reads "…" at the start of b, a line that plainASCII passed
// (no escape, no byte that needs checking): its end is the next quote.
func plainString(b []byte) (s, rest []byte, ok bool) {
	if len(b) < 2 || b[0] != '"' {
		return nil, nil, false
	}
	n := bytes.IndexByte(b[1:], '"')
	if n < 0 {
		return nil, nil, false
	}
	return b[1 : 1+n], b[n+2:], true
}

// plainASCII reports whether s holds only printable ASCII other than '\\'
// (bytes 0x20–0x7f). The backslash is found by IndexByte (vectorised); the
// rest by the classic SWAR test ORed over the words, one branch at the
// end: a byte at 0x80 or above sets its high bit, a byte below 0x20 borrows
// into it, and a word of bytes in 0x20–0x7f does neither.
func plainASCII(s []byte) bool {
	if bytes.IndexByte(s, '\\') >= 0 {
		return false
	}
	var acc uint64
	i := 0
	for ; i+8 <= len(s); i += 8 {
		w := binary.LittleEndian.Uint64(s[i:])
		acc |= w | (w - 0x20*lo8)
	}
	if i < len(s) {
		if len(s) >= 8 { // the last eight bytes again, overlapping
			w := binary.LittleEndian.Uint64(s[len(s)-8:])
			acc |= w | (w - 0x20*lo8)
		} else {
			for _, c := range s[i:] {
				if c < 0x20 || c >= 0x80 {
					return false
				}
			}
		}
	}
	return acc&hi8 == 0
}

// idString is an item's _id. With storage off nothing keeps an id past its
// request (the store keeps its hash; answers, errors and an ItemRule's
// Item are written from it or copied before the request ends), so the id
// borrows the body's bytes rather than being copied.
func (p *bulkParser) idString(b []byte) string {
	if p.borrowIDs && len(b) > 0 {
		return unsafe.String(&b[0], len(b))
	}
	return string(b)
}

func (p *bulkParser) intern(b []byte) string {
	if s, ok := p.indices[string(b)]; ok {
		return s
	}
	if p.indices == nil || len(p.indices) > 1024 {
		p.indices = map[string]string{}
	}
	s := string(b)
	p.indices[s] = s
	return s
}

// validObject reports whether b is exactly one JSON object, valid by
// RFC 8259, with ASCII-only strings without escapes (anything else is left
// to the scanner, which also words the errors). The bytes are checked once
// for the whole line, so that a string ends at its next quote.
func validObject(b []byte) bool {
	if !plainASCII(b) {
		return false
	}
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '{' {
		return false
	}
	i, ok := validValue(b, i, 0)
	return ok && skipWS(b, i) == len(b)
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n') {
		i++
	}
	return i
}

const maxDepth = 64

func validValue(b []byte, i, depth int) (int, bool) {
	if i >= len(b) || depth > maxDepth {
		return i, false
	}
	switch c := b[i]; {
	case c == '"':
		return validString(b, i)
	case c == '{' || c == '[':
		closer := byte('}')
		if c == '[' {
			closer = ']'
		}
		i = skipWS(b, i+1)
		if i < len(b) && b[i] == closer {
			return i + 1, true
		}
		for {
			var ok bool
			if c == '{' {
				if i, ok = validString(b, i); !ok {
					return i, false
				}
				if i = skipWS(b, i); i >= len(b) || b[i] != ':' {
					return i, false
				}
				i = skipWS(b, i+1)
			}
			if i, ok = validValue(b, i, depth+1); !ok {
				return i, false
			}
			if i = skipWS(b, i); i >= len(b) {
				return i, false
			}
			if b[i] == closer {
				return i + 1, true
			}
			if b[i] != ',' {
				return i, false
			}
			i = skipWS(b, i+1)
		}
	case c == '-' || c >= '0' && c <= '9':
		var s scanner
		s.b, s.pos = b, i
		if _, err := s.readNumber(); err != nil {
			return i, false
		}
		return s.pos, true
	}
	for _, lit := range [...]string{"true", "false", "null"} {
		if end := i + len(lit); end <= len(b) && string(b[i:end]) == lit && (end == len(b) || !isIdentByte(b[end])) {
			return end, true
		}
	}
	return i, false
}

// validString reads a string of a line that plainASCII passed.
func validString(b []byte, i int) (int, bool) {
	if i >= len(b) || b[i] != '"' {
		return i, false
	}
	n := bytes.IndexByte(b[i+1:], '"')
	if n < 0 {
		return i, false
	}
	return i + n + 2, true
}

// appendCreated writes a successful write item without the filter machinery.
func appendCreated(b []byte, r *result) []byte {
	b = append(b, `{"`...)
	b = append(b, r.action...)
	b = append(b, `":{"_index":`...)
	b = appendQuoted(b, r.index)
	b = append(b, `,"_id":`...)
	b = appendQuoted(b, r.id)
	b = append(b, `,"_version":`...)
	b = strconv.AppendInt(b, r.version, 10)
	b = append(b, `,"result":"`...)
	b = append(b, r.result...)
	b = append(b, `","_shards":{"total":2,"successful":1,"failed":0},"_seq_no":`...)
	b = strconv.AppendInt(b, r.seqNo, 10)
	b = append(b, `,"_primary_term":1,"status":`...)
	b = strconv.AppendInt(b, int64(r.status), 10)
	return append(b, "}}"...)
}
