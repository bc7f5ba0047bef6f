package otlp

import (
	"math"
	"strconv"

	"github.com/capstan-agent/capstan/spool/batch"
)

// OTLP/JSON (the OTLP specification's JSON encoding) is the protobuf JSON
// mapping with its own rules, which plain protojson gets wrong: field names
// in lowerCamelCase, 64-bit integers as decimal strings, enums as numbers,
// trace and span ids in hex (not base64). Values are written straight from
// the batch's text: a string of a JSON value is already a valid JSON string.

// appendAnyJSON appends the OTLP/JSON AnyValue object holding a.
func appendAnyJSON(b []byte, a batch.Attr) []byte {
	switch a.Kind {
	case batch.KindInt:
		if batch.ValidValue(batch.KindInt, a.Value) {
			b = append(b, `{"intValue":"`...)
			return append(append(b, a.Value...), `"}`...)
		}
	case batch.KindFloat:
		if batch.ValidValue(batch.KindFloat, a.Value) {
			b = append(b, `{"doubleValue":`...)
			return append(append(b, a.Value...), '}')
		}
	case batch.KindBool:
		if batch.ValidValue(batch.KindBool, a.Value) {
			b = append(b, `{"boolValue":`...)
			return append(append(b, a.Value...), '}')
		}
	case batch.KindNull:
		return append(b, "{}"...)
	case batch.KindJSON:
		mark := len(b)
		if out, rest, ok := appendJSONAnyJSON(b, a.Value, 0); ok && len(rest) == 0 {
			return out
		}
		b = b[:mark]
	}
	b = append(b, `{"stringValue":`...)
	return append(batch.AppendJSONString(b, a.Value), '}')
}

// appendKeyValueJSON appends {"key":K,"value":V}.
func appendKeyValueJSON(b, key []byte, a batch.Attr) []byte {
	b = append(b, `{"key":`...)
	b = batch.AppendJSONString(b, key)
	b = append(b, `,"value":`...)
	return append(appendAnyJSON(b, a), '}')
}

// appendJSONAnyJSON appends the OTLP/JSON AnyValue of the compact JSON
// value at the start of j and returns the rest of j.
func appendJSONAnyJSON(b, j []byte, depth int) (out, rest []byte, ok bool) {
	if len(j) == 0 || depth > maxDepth {
		return b, j, false
	}
	switch c := j[0]; {
	case c == '{':
		b = append(b, `{"kvlistValue":{"values":[`...)
		j = j[1:]
		for first := true; len(j) > 0 && j[0] != '}'; first = false {
			if j[0] == ',' {
				j = j[1:]
			}
			if !first {
				b = append(b, ',')
			}
			n := quotedLen(j)
			if n == 0 || len(j) <= n || j[n] != ':' {
				return b, j, false
			}
			b = append(append(b, `{"key":`...), j[:n]...)
			b = append(b, `,"value":`...)
			if b, j, ok = appendJSONAnyJSON(b, j[n+1:], depth+1); !ok {
				return b, j, false
			}
			b = append(b, '}')
		}
		if len(j) == 0 {
			return b, j, false
		}
		return append(b, "]}}"...), j[1:], true
	case c == '[':
		b = append(b, `{"arrayValue":{"values":[`...)
		j = j[1:]
		for first := true; len(j) > 0 && j[0] != ']'; first = false {
			if j[0] == ',' {
				j = j[1:]
			}
			if !first {
				b = append(b, ',')
			}
			if b, j, ok = appendJSONAnyJSON(b, j, depth+1); !ok {
				return b, j, false
			}
		}
		if len(j) == 0 {
			return b, j, false
		}
		return append(b, "]}}"...), j[1:], true
	case c == '"':
		n := quotedLen(j)
		if n == 0 {
			return b, j, false
		}
		b = append(append(b, `{"stringValue":`...), j[:n]...)
		return append(b, '}'), j[n:], true
	case c == 't' && len(j) >= 4:
		return append(b, `{"boolValue":true}`...), j[4:], true
	case c == 'f' && len(j) >= 5:
		return append(b, `{"boolValue":false}`...), j[5:], true
	case c == 'n' && len(j) >= 4:
		return append(b, "{}"...), j[4:], true
	case c == '-' || c >= '0' && c <= '9':
		n := numberLen(j)
		num := j[:n]
		if _, isInt := jsonInt(num); isInt {
			b = append(append(b, `{"intValue":"`...), num...)
			return append(b, `"}`...), j[n:], true
		}
		f, err := strconv.ParseFloat(unsafeString(num), 64)
		switch {
		case math.IsInf(f, 1):
			return append(b, `{"doubleValue":"Infinity"}`...), j[n:], true
		case math.IsInf(f, -1):
			return append(b, `{"doubleValue":"-Infinity"}`...), j[n:], true
		case err != nil:
			return b, j, false
		}
		b = append(append(b, `{"doubleValue":`...), num...)
		return append(b, '}'), j[n:], true
	}
	return b, j, false
}

// quotedLen is the length of the JSON string (quotes included) at the
// start of j, 0 if there is none.
func quotedLen(j []byte) int {
	if len(j) == 0 || j[0] != '"' {
		return 0
	}
	for i := 1; i < len(j); i++ {
		switch j[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return 0
}
