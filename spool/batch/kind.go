package batch

import (
	"math"
	"strconv"
	"unsafe"
)

// Kind is the type of an attribute's value (or of a record's body) in a
// version 2 batch. Whatever the kind, the value bytes are the value's
// canonical JSON-compatible text, so that a JSON encoder copies every kind
// but KindString verbatim. See docs/format.md, "Values and kinds".
type Kind uint8

// Kinds. The zero value is KindString, so an Attr made without a kind means
// what every attribute of version 1 means.
const (
	// KindString: any bytes, meant as UTF-8 text, not quoted. Encoders
	// replace each byte of invalid UTF-8 by U+FFFD.
	KindString Kind = iota
	// KindInt: a signed 64-bit integer in decimal, -?(0|[1-9][0-9]*); no "-0".
	KindInt
	// KindFloat: a JSON number that parses to a finite float64. AppendFloat
	// writes the canonical (shortest round-trip) text.
	KindFloat
	// KindBool: "true" or "false".
	KindBool
	// KindNull: empty.
	KindNull
	// KindJSON: a compact JSON object or array (no whitespace outside
	// strings, strings in valid UTF-8, nested at most MaxJSONDepth deep).
	KindJSON

	maxKind = KindJSON
)

var kindNames = [...]string{"string", "int", "float", "bool", "null", "json"}

func (k Kind) String() string {
	if k > maxKind {
		return "kind(" + strconv.Itoa(int(k)) + ")"
	}
	return kindNames[k]
}

// Attr is a key/value attribute of a source or a record. Key is any bytes;
// Value is the text of a value of kind Kind (see Kind). A version 1 batch
// carries only keys and value text: its attributes read back as KindString.
type Attr struct {
	Key, Value []byte
	Kind       Kind
}

// Int is the value of a KindInt attribute; ok is false for another kind
// or a value that is not valid. It does not allocate (nor do Float and Bool):
// an encoder with a typed wire format (OTLP's AnyValue, say) reads values
// with them.
func (a Attr) Int() (v int64, ok bool) {
	if a.Kind != KindInt || !validInt(a.Value) {
		return 0, false
	}
	v, err := strconv.ParseInt(unsafeString(a.Value), 10, 64)
	return v, err == nil
}

// Float is the value of a KindFloat attribute (see Int).
func (a Attr) Float() (f float64, ok bool) {
	if a.Kind != KindFloat || !validFloat(a.Value) {
		return 0, false
	}
	f, err := strconv.ParseFloat(unsafeString(a.Value), 64)
	return f, err == nil || !math.IsInf(f, 0)
}

// Bool is the value of a KindBool attribute (see Int).
func (a Attr) Bool() (v, ok bool) {
	if a.Kind != KindBool || !ValidValue(KindBool, a.Value) {
		return false, false
	}
	return a.Value[0] == 't', true
}

// unsafeString shares b's bytes: only for strconv parsers, which do not keep
// their argument (their errors copy it).
func unsafeString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// StringAttr makes a KindString Attr from strings; it copies, so use it off
// the hot path (like the other *Attr constructors).
func StringAttr(key, value string) Attr {
	return Attr{Key: []byte(key), Value: []byte(value)}
}

// IntAttr makes a KindInt Attr.
func IntAttr(key string, v int64) Attr {
	return Attr{Key: []byte(key), Value: strconv.AppendInt(nil, v, 10), Kind: KindInt}
}

// FloatAttr makes a KindFloat Attr, or a KindString one holding "NaN",
// "+Inf" or "-Inf" for a value JSON cannot hold (see AppendFloat).
func FloatAttr(key string, f float64) Attr {
	v, k := AppendFloat(nil, f)
	return Attr{Key: []byte(key), Value: v, Kind: k}
}

// BoolAttr makes a KindBool Attr.
func BoolAttr(key string, v bool) Attr {
	return Attr{Key: []byte(key), Value: strconv.AppendBool(nil, v), Kind: KindBool}
}

// NullAttr makes a KindNull Attr.
func NullAttr(key string) Attr { return Attr{Key: []byte(key), Value: []byte{}, Kind: KindNull} }

// JSONAttr makes a KindJSON Attr from JSON text, which it does not check: a
// Builder stores a value that is not compact JSON as a string (see
// Builder.Demoted); CompactJSON makes valid text compact.
func JSONAttr(key, json string) Attr {
	return Attr{Key: []byte(key), Value: []byte(json), Kind: KindJSON}
}

// AppendFloat appends the canonical text of f — the shortest text that
// parses back to f, in the notation encoding/json and JavaScript use (plain
// digits from 1e-6 up to 1e21, exponent outside that) — and returns KindFloat.
// NaN and ±Inf have no JSON form: it appends "NaN", "+Inf" or "-Inf" and
// returns KindString, which is how a builder should store them.
func AppendFloat(dst []byte, f float64) ([]byte, Kind) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return strconv.AppendFloat(dst, f, 'g', -1, 64), KindString
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	dst = strconv.AppendFloat(dst, f, format, -1, 64)
	if n := len(dst); format == 'e' && n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
		dst[n-2] = dst[n-1] // 1e-07 → 1e-7
		dst = dst[:n-1]
	}
	return dst, KindFloat
}

// ValidValue reports whether v is a well-formed value of kind k, as Decode
// requires of every value of a version 2 batch. It does not allocate.
func ValidValue(k Kind, v []byte) bool {
	switch k {
	case KindString:
		return true
	case KindInt:
		return validInt(v)
	case KindFloat:
		return validFloat(v)
	case KindBool:
		return string(v) == "true" || string(v) == "false"
	case KindNull:
		return len(v) == 0
	case KindJSON:
		return scanJSON(v, false)
	}
	return false
}

// validInt accepts -?(0|[1-9][0-9]*) within int64.
func validInt(v []byte) bool {
	neg := len(v) > 0 && v[0] == '-'
	d := v
	if neg {
		d = v[1:]
	}
	if len(d) == 0 || len(d) > 19 {
		return false
	}
	if d[0] == '0' {
		return len(d) == 1 && !neg
	}
	var n uint64 // 19 digits always fit
	for _, c := range d {
		if c < '0' || c > '9' {
			return false
		}
		n = n*10 + uint64(c-'0')
	}
	if neg {
		return n <= 1<<63
	}
	return n <= math.MaxInt64
}

// validFloat accepts a JSON number that parses to a finite float64 (an
// underflow to zero is finite).
func validFloat(v []byte) bool {
	if len(v) == 0 || scanNumber(v, 0) != len(v) {
		return false
	}
	if len(v) < 300 {
		exponent := false
		for _, c := range v {
			exponent = exponent || c == 'e' || c == 'E'
		}
		if !exponent {
			return true // fewer than 300 digits and no exponent: below 1e300
		}
	}
	f, _ := strconv.ParseFloat(unsafeString(v), 64)
	return !math.IsInf(f, 0)
}
