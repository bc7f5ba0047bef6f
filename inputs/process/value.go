package process

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"
)

// Canonical value text (see Kind): how values are parsed from and written
// into a record.

// parseInt parses a decimal int64 without allocating (strconv's error path
// allocates).
func parseInt(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	neg := b[0] == '-'
	if neg || b[0] == '+' {
		b = b[1:]
		if len(b) == 0 {
			return 0, false
		}
	}
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if n > (math.MaxUint64-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	if neg {
		if n > 1<<63 {
			return 0, false
		}
		return -int64(n), true
	}
	if n > math.MaxInt64 {
		return 0, false
	}
	return int64(n), true
}

// parseFloat parses a float, refusing NaN and infinities, which JSON cannot
// hold.
func parseFloat(b []byte) (float64, bool) {
	if len(b) == 0 || !floatSyntax(b) {
		return 0, false
	}
	f, err := strconv.ParseFloat(stringOf(b), 64)
	if err != nil || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}

// floatSyntax checks the JSON number grammar loosely (digits, sign, point,
// exponent), so that strconv never sees text it would fail on and so
// allocate an error for.
func floatSyntax(b []byte) bool {
	digits := false
	for i, c := range b {
		switch {
		case c >= '0' && c <= '9':
			digits = true
		case c == '.' || c == 'e' || c == 'E':
		case (c == '-' || c == '+') && (i == 0 || b[i-1] == 'e' || b[i-1] == 'E'):
		default:
			return false
		}
	}
	return digits
}

// appendFloat appends f the way encoding/json (and JavaScript) write it:
// the shortest text that reads back as f, in exponent form only below 1e-6
// and from 1e21.
func appendFloat(b []byte, f float64) []byte {
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// 1e-07 -> 1e-7, as JSON encoders write it.
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

// canonicalNumber returns the canonical text of a JSON number literal and
// its kind: an integer literal within int64 is an int, anything else a
// float. Literals that are already canonical (most are) are returned as
// they are, without parsing.
func canonicalNumber(r *Record, lit []byte) (Kind, []byte) {
	isInt := true
	for _, c := range lit {
		if c == '.' || c == 'e' || c == 'E' {
			isInt = false
			break
		}
	}
	if isInt {
		if _, ok := parseInt(lit); ok {
			if len(lit) == 2 && lit[0] == '-' && lit[1] == '0' {
				return KindInt, lit[1:]
			}
			return KindInt, lit
		}
	}
	if plainFloat(lit) {
		return KindFloat, lit
	}
	f, ok := parseFloat(lit)
	if !ok {
		return KindString, lit // out of float range: kept as written
	}
	m := r.mark()
	r.arena = appendFloat(r.arena, f)
	return KindFloat, r.since(m)
}

// plainFloat reports whether a float literal is already in canonical form:
// d.ddd with no exponent, a nonzero last fraction digit, at most 15
// significant digits (so that no shorter text reads back as the same
// float), an integer part without a leading zero unless it is 0, and a
// magnitude from 1e-6 on (below 1e21 follows from 15 digits).
func plainFloat(lit []byte) bool {
	b := lit
	if len(b) > 0 && b[0] == '-' {
		b = b[1:]
	}
	dot := -1
	for i, c := range b {
		switch {
		case c == '.':
			if dot >= 0 {
				return false
			}
			dot = i
		case c < '0' || c > '9':
			return false
		}
	}
	if dot <= 0 || dot == len(b)-1 || b[len(b)-1] == '0' || (b[0] == '0' && dot != 1) {
		return false
	}
	sig, lead := 0, true
	zeros := 0 // zeros between the point and the first significant digit
	for i, c := range b {
		if c == '.' {
			continue
		}
		if lead && c == '0' {
			if i > dot {
				zeros++
			}
			continue
		}
		lead = false
		sig++
	}
	return sig > 0 && sig <= 15 && zeros < 6
}

// appendResult stores an expression's result as a field value in r's
// arena: strings, numbers, booleans and nil map to their kinds, lists and
// maps to JSON, anything else to its text.
func appendResult(r *Record, out any) (Kind, []byte) {
	m := r.mark()
	kind := KindString
	switch v := out.(type) {
	case nil:
		return KindNull, nil
	case string:
		r.arena = append(r.arena, v...)
	case []byte:
		r.arena = append(r.arena, v...)
	case bool:
		kind = KindBool
		r.arena = strconv.AppendBool(r.arena, v)
	case int:
		kind = KindInt
		r.arena = strconv.AppendInt(r.arena, int64(v), 10)
	case int64:
		kind = KindInt
		r.arena = strconv.AppendInt(r.arena, v, 10)
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			r.arena = strconv.AppendFloat(r.arena, v, 'g', -1, 64)
		} else {
			kind = KindFloat
			r.arena = appendFloat(r.arena, v)
		}
	case time.Time:
		r.arena = v.UTC().AppendFormat(r.arena, time.RFC3339Nano)
	case []any, map[string]any:
		j, err := json.Marshal(v)
		if err != nil {
			r.arena = fmt.Append(r.arena, v)
		} else {
			kind = KindJSON
			r.arena = append(r.arena, j...)
		}
	default:
		r.arena = fmt.Append(r.arena, v)
	}
	return kind, r.since(m)
}

// keyBytes turns an expression result into the bytes of a key (throttle,
// sample): a string as it is, other values as text appended to *scratch.
// nil is the empty key.
func keyBytes(scratch *[]byte, out any) []byte {
	switch v := out.(type) {
	case nil:
		return nil
	case string:
		return bytesOf(v)
	case int:
		*scratch = strconv.AppendInt((*scratch)[:0], int64(v), 10)
	case bool:
		*scratch = strconv.AppendBool((*scratch)[:0], v)
	case float64:
		*scratch = appendFloat((*scratch)[:0], v)
	default:
		*scratch = fmt.Append((*scratch)[:0], out)
	}
	return *scratch
}

func appendInt(b []byte, n int64) []byte { return strconv.AppendInt(b, n, 10) }
