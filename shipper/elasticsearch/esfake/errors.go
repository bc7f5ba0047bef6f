package esfake

import (
	"strconv"
	"unicode/utf8"
)

// esError is an Elasticsearch exception as it is rendered in a response:
// a type (the exception class in snake case), a reason, an optional cause
// and extra metadata fields (index, index_uuid, shard, header, …).
type esError struct {
	Status   int
	Type     string
	Reason   string
	CausedBy *esError
	Extra    []jsonField // raw JSON values, written in order after reason
}

type jsonField struct{ name, raw string }

// shardError returns e with the index, index_uuid and shard fields that a
// shard-level failure carries.
func (e *esError) onShard(ix *index) *esError {
	if ix.shardFields == nil {
		ix.shardFields = []jsonField{{"index_uuid", quoteJSON(ix.uuid)}, {"shard", `"0"`}, {"index", quoteJSON(ix.concrete)}}
	}
	if len(e.Extra) == 0 {
		e.Extra = ix.shardFields[:3:3] // shared, never appended to in place
	} else {
		e.Extra = append(e.Extra, ix.shardFields...)
	}
	return e
}

// appendObject writes {"type":…,"reason":…,…,"caused_by":{…}}.
func (e *esError) appendObject(b []byte, withCause bool) []byte {
	b = append(b, `{"type":`...)
	b = appendQuoted(b, e.Type)
	b = append(b, `,"reason":`...)
	b = appendQuoted(b, e.Reason)
	for _, x := range e.Extra {
		b = append(b, ',')
		b = appendQuoted(b, x.name)
		b = append(b, ':')
		b = append(b, x.raw...)
	}
	if withCause && e.CausedBy != nil {
		b = append(b, `,"caused_by":`...)
		b = e.CausedBy.appendObject(b, true)
	}
	return append(b, '}')
}

// appendBody writes a request-level error:
// {"error":{"root_cause":[…],"type":…,"reason":…},"status":N}.
func (e *esError) appendBody(b []byte) []byte {
	root := e
	for root.CausedBy != nil {
		root = root.CausedBy
	}
	b = append(b, `{"error":{"root_cause":[`...)
	b = root.appendObject(b, false)
	b = append(b, `],`...)
	inner := e.appendObject(nil, true)
	b = append(b, inner[1:]...) // the fields of the outer exception
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(e.Status), 10)
	return append(b, '}')
}

func badRequest(typ, reason string) *esError {
	return &esError{Status: 400, Type: typ, Reason: reason}
}

func illegalArgument(reason string) *esError { return badRequest("illegal_argument_exception", reason) }

func quoteJSON(s string) string { return string(appendQuoted(nil, s)) }

const hexDigits = "0123456789abcdef"

// appendQuoted appends s as a JSON string; invalid UTF-8 becomes U+FFFD as
// Elasticsearch's Jackson writer does.
func appendQuoted(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			b = append(b, s[start:i]...)
			b = append(b, "\ufffd"...)
			i++
			start = i
			continue
		}
		i += n
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
