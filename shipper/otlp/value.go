package otlp

import (
	"math"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/capstan-agent/capstan/spool/batch"
)

// A typed value of the batch (docs/format.md, "Values and kinds") becomes
// an OTLP AnyValue of its type: string, int, double, bool; null the empty
// AnyValue; a JSON object a kvlist and a JSON array an array, recursively,
// their numbers ints when they are integers that fit 64 bits and doubles
// otherwise.

// appendAnyValue appends the content of an AnyValue holding a.
func appendAnyValue(b []byte, a batch.Attr) []byte {
	switch a.Kind {
	case batch.KindInt:
		if v, ok := a.Int(); ok {
			b = protowire.AppendTag(b, fAnyInt, protowire.VarintType)
			return protowire.AppendVarint(b, uint64(v))
		}
	case batch.KindFloat:
		if f, ok := a.Float(); ok {
			b = protowire.AppendTag(b, fAnyDouble, protowire.Fixed64Type)
			return protowire.AppendFixed64(b, math.Float64bits(f))
		}
	case batch.KindBool:
		if v, ok := a.Bool(); ok {
			b = protowire.AppendTag(b, fAnyBool, protowire.VarintType)
			return protowire.AppendVarint(b, protowire.EncodeBool(v))
		}
	case batch.KindNull:
		return b
	case batch.KindJSON:
		if out, rest, ok := appendJSONAny(b, a.Value, 0); ok && len(rest) == 0 {
			return out
		}
	}
	// Strings, and any value that is not what its kind says (Decode
	// validated it, so only a bug would get here): kept as text.
	return appendStringField(b, fAnyString, a.Value)
}

// appendKeyValue appends a KeyValue field (num) for key and a.
func appendKeyValue(b []byte, num protowire.Number, key []byte, a batch.Attr) []byte {
	if sc, ok := scalarOf(a); ok && utf8.Valid(key) {
		// The common case, sized up front and parsed once: no room to
		// reserve and fix.
		vs := sc.size(a)
		kv := sizeBytesField(len(key)) + sizeBytesField(vs)
		b = protowire.AppendTag(b, num, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(kv))
		b = protowire.AppendTag(b, fKeyValueKey, protowire.BytesType)
		b = protowire.AppendBytes(b, key)
		b = protowire.AppendTag(b, fKeyValueValue, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(vs))
		return sc.append(b, a)
	}
	b, start := beginLen(b, num, 1)
	b = appendStringField(b, fKeyValueKey, key)
	b, vstart := beginLen(b, fKeyValueValue, 1)
	b = appendAnyValue(b, a)
	b = endLen(b, vstart, 1)
	return endLen(b, start, 1)
}

// scalar is a string (valid UTF-8), int, float, bool or null value, parsed.
type scalar struct {
	kind batch.Kind
	bits uint64 // the int, the float's bits, the bool
}

// scalarOf parses a's value once; ok is false for JSON values, strings of
// invalid UTF-8 and values that are not what their kind says (Decode
// validated every value, so only a bug makes one), which the slower path
// writes.
func scalarOf(a batch.Attr) (scalar, bool) {
	switch a.Kind {
	case batch.KindString:
		return scalar{kind: a.Kind}, utf8.Valid(a.Value)
	case batch.KindInt:
		v, err := strconv.ParseInt(unsafeString(a.Value), 10, 64)
		return scalar{a.Kind, uint64(v)}, err == nil
	case batch.KindFloat:
		f, err := strconv.ParseFloat(unsafeString(a.Value), 64)
		return scalar{a.Kind, math.Float64bits(f)}, err == nil
	case batch.KindBool:
		return scalar{a.Kind, protowire.EncodeBool(len(a.Value) == 4)}, len(a.Value) == 4 || len(a.Value) == 5
	case batch.KindNull:
		return scalar{kind: a.Kind}, true
	}
	return scalar{}, false
}

// size is the size of the AnyValue.
func (s scalar) size(a batch.Attr) int {
	switch s.kind {
	case batch.KindString:
		return sizeBytesField(len(a.Value))
	case batch.KindInt:
		return 1 + protowire.SizeVarint(s.bits)
	case batch.KindFloat:
		return 9
	case batch.KindBool:
		return 2
	}
	return 0
}

// append appends the AnyValue's content.
func (s scalar) append(b []byte, a batch.Attr) []byte {
	switch s.kind {
	case batch.KindString:
		b = protowire.AppendTag(b, fAnyString, protowire.BytesType)
		return protowire.AppendBytes(b, a.Value)
	case batch.KindInt:
		b = protowire.AppendTag(b, fAnyInt, protowire.VarintType)
		return protowire.AppendVarint(b, s.bits)
	case batch.KindFloat:
		b = protowire.AppendTag(b, fAnyDouble, protowire.Fixed64Type)
		return protowire.AppendFixed64(b, s.bits)
	case batch.KindBool:
		b = protowire.AppendTag(b, fAnyBool, protowire.VarintType)
		return protowire.AppendVarint(b, s.bits)
	}
	return b
}

// maxDepth bounds the nesting appendJSONAny follows (a batch holds JSON
// values nested at most batch.MaxJSONDepth deep; this is a guard).
const maxDepth = 128

// appendJSONAny appends the AnyValue content of the compact JSON value at
// the start of j and returns the rest of j. ok is false if j does not start
// with a JSON value (b is then to be discarded).
func appendJSONAny(b, j []byte, depth int) (out, rest []byte, ok bool) {
	if len(j) == 0 || depth > maxDepth {
		return b, j, false
	}
	switch c := j[0]; {
	case c == '{':
		var start int
		b, start = beginLen(b, fAnyKVList, 2)
		j = j[1:]
		for len(j) > 0 && j[0] != '}' {
			if j[0] == ',' {
				j = j[1:]
			}
			if len(j) == 0 || j[0] != '"' {
				return b, j, false
			}
			var mstart int
			b, mstart = beginLen(b, fValues, 2)
			var kstart int
			b, kstart = beginLen(b, fKeyValueKey, 1)
			if b, j, ok = appendJSONUnquoted(b, j); !ok || len(j) == 0 || j[0] != ':' {
				return b, j, false
			}
			b = endLen(b, kstart, 1)
			var vstart int
			b, vstart = beginLen(b, fKeyValueValue, 2)
			if b, j, ok = appendJSONAny(b, j[1:], depth+1); !ok {
				return b, j, false
			}
			b = endLen(b, vstart, 2)
			b = endLen(b, mstart, 2)
		}
		if len(j) == 0 {
			return b, j, false
		}
		return endLen(b, start, 2), j[1:], true
	case c == '[':
		var start int
		b, start = beginLen(b, fAnyArray, 2)
		j = j[1:]
		for len(j) > 0 && j[0] != ']' {
			if j[0] == ',' {
				j = j[1:]
			}
			var vstart int
			b, vstart = beginLen(b, fValues, 2)
			if b, j, ok = appendJSONAny(b, j, depth+1); !ok {
				return b, j, false
			}
			b = endLen(b, vstart, 2)
		}
		if len(j) == 0 {
			return b, j, false
		}
		return endLen(b, start, 2), j[1:], true
	case c == '"':
		var start int
		b, start = beginLen(b, fAnyString, 1)
		if b, j, ok = appendJSONUnquoted(b, j); !ok {
			return b, j, false
		}
		return endLen(b, start, 1), j, true
	case c == 't' && len(j) >= 4:
		b = protowire.AppendTag(b, fAnyBool, protowire.VarintType)
		return protowire.AppendVarint(b, 1), j[4:], true
	case c == 'f' && len(j) >= 5:
		b = protowire.AppendTag(b, fAnyBool, protowire.VarintType)
		return protowire.AppendVarint(b, 0), j[5:], true
	case c == 'n' && len(j) >= 4:
		return b, j[4:], true // null: the empty AnyValue
	case c == '-' || c >= '0' && c <= '9':
		n := numberLen(j)
		num := j[:n]
		if i, isInt := jsonInt(num); isInt {
			b = protowire.AppendTag(b, fAnyInt, protowire.VarintType)
			return protowire.AppendVarint(b, uint64(i)), j[n:], true
		}
		f, err := strconv.ParseFloat(unsafeString(num), 64)
		if err != nil && !math.IsInf(f, 0) {
			return b, j, false
		}
		b = protowire.AppendTag(b, fAnyDouble, protowire.Fixed64Type)
		return protowire.AppendFixed64(b, math.Float64bits(f)), j[n:], true
	}
	return b, j, false
}

// numberLen is the length of the JSON number at the start of j.
func numberLen(j []byte) int {
	n := 0
	for n < len(j) {
		switch c := j[n]; {
		case c >= '0' && c <= '9', c == '-', c == '+', c == '.', c == 'e', c == 'E':
			n++
		default:
			return n
		}
	}
	return n
}

// jsonInt reads a JSON number that is an integer fitting 64 bits.
func jsonInt(num []byte) (int64, bool) {
	for _, c := range num {
		if c == '.' || c == 'e' || c == 'E' {
			return 0, false
		}
	}
	i, err := strconv.ParseInt(unsafeString(num), 10, 64)
	return i, err == nil
}

// appendJSONUnquoted appends the text of the JSON string at the start of j
// (escapes resolved; a lone surrogate becomes U+FFFD) and returns the rest.
func appendJSONUnquoted(b, j []byte) (out, rest []byte, ok bool) {
	if len(j) == 0 || j[0] != '"' {
		return b, j, false
	}
	i := 1
	for i < len(j) {
		c := j[i]
		switch {
		case c == '"':
			return b, j[i+1:], true
		case c != '\\':
			k := i + 1
			for k < len(j) && j[k] != '"' && j[k] != '\\' {
				k++
			}
			b = append(b, j[i:k]...)
			i = k
			continue
		}
		if i+1 >= len(j) {
			return b, j, false
		}
		switch e := j[i+1]; e {
		case '"', '\\', '/':
			b = append(b, e)
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'u':
			r, n := hexRune(j[i+2:])
			if n == 0 {
				return b, j, false
			}
			i += n
			if utf16.IsSurrogate(r) {
				r2, n2 := rune(-1), 0
				if len(j) > i+3 && j[i+2] == '\\' && j[i+3] == 'u' {
					r2, n2 = hexRune(j[i+4:])
				}
				if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
					r = d
					i += 2 + n2
				} else {
					r = utf8.RuneError
				}
			}
			b = utf8.AppendRune(b, r)
		default:
			return b, j, false
		}
		i += 2
	}
	return b, j, false
}

// hexRune reads four hex digits; n is 4, or 0 if they are not there.
func hexRune(h []byte) (rune, int) {
	if len(h) < 4 {
		return 0, 0
	}
	var r rune
	for _, c := range h[:4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, 0
		}
	}
	return r, 4
}

// unsafeString shares b's bytes with a string for strconv, which keeps
// neither.
func unsafeString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
