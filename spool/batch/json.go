package batch

import (
	"encoding/binary"
	"strconv"
	"unicode/utf8"
)

// MaxJSONDepth bounds the nesting of a KindJSON value: `{}` is depth 1,
// `{"a":[1]}` depth 2. A deeper value is not a valid KindJSON value (a
// Builder stores it as a string). The bound keeps the validator's stack
// fixed and every downstream encoder that recurses safe.
const MaxJSONDepth = 128

// AppendJSONValue appends the value of a as JSON: a KindString value quoted
// and escaped (see AppendJSONString), KindNull as null, every other kind
// verbatim. The key is not written. a's value must be valid for its kind, as
// the value of every Attr read from a decoded batch is (ValidValue tells);
// an unknown kind is written as a string. It does not allocate beyond
// growing dst.
func AppendJSONValue(dst []byte, a Attr) []byte {
	switch a.Kind {
	case KindInt, KindFloat, KindBool, KindJSON:
		return append(dst, a.Value...)
	case KindNull:
		return append(dst, "null"...)
	}
	return AppendJSONString(dst, a.Value)
}

// CompactJSON appends src without the whitespace outside its strings if src
// is a JSON object or array that is a valid KindJSON value once compact
// (strings in valid UTF-8, nesting within MaxJSONDepth). Otherwise it returns
// dst unchanged and false. It does not allocate beyond growing dst: a
// processor that parsed a nested object makes its KindJSON value with it.
func CompactJSON(dst, src []byte) ([]byte, bool) {
	if !scanJSON(src, true) {
		return dst, false
	}
	inString, escaped, from := false, false, 0
	for i, c := range src {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case isSpace(c):
			dst = append(dst, src[from:i]...)
			from = i + 1
		}
	}
	return append(dst, src[from:]...), true
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// scanJSON reports whether b is one JSON object or array, with whitespace
// between tokens only if space, strings in valid UTF-8, nested at most
// MaxJSONDepth deep. It walks b once with a fixed stack: no recursion, no
// allocation.
func scanJSON(b []byte, space bool) bool {
	var objects [MaxJSONDepth / 64]uint64 // bit d: the container at depth d is an object
	depth, i := 0, skipSpace(b, 0, space)
	if i >= len(b) || (b[i] != '{' && b[i] != '[') {
		return false
	}
	atValue := true // i is where a value starts; otherwise just past one
	for {
		if atValue {
			if i >= len(b) {
				return false
			}
			c := b[i]
			if c != '{' && c != '[' {
				if i = scanScalar(b, i); i < 0 {
					return false
				}
				atValue = false
				i = skipSpace(b, i, space)
				continue
			}
			if depth == MaxJSONDepth {
				return false
			}
			word, bit := depth/64, uint64(1)<<(depth%64)
			if c == '{' {
				objects[word] |= bit
			} else {
				objects[word] &^= bit
			}
			depth++
			i = skipSpace(b, i+1, space)
			if i < len(b) && ((c == '{' && b[i] == '}') || (c == '[' && b[i] == ']')) {
				depth--
				atValue = false
				i = skipSpace(b, i+1, space)
			} else if c == '{' {
				if i = scanMember(b, i, space); i < 0 {
					return false
				}
			}
			continue
		}
		if depth == 0 {
			return i == len(b)
		}
		if i >= len(b) {
			return false
		}
		d := depth - 1
		object := objects[d/64]>>(d%64)&1 != 0
		switch c := b[i]; {
		case c == ',':
			i = skipSpace(b, i+1, space)
			if object {
				if i = scanMember(b, i, space); i < 0 {
					return false
				}
			}
			atValue = true
		case (c == '}' && object) || (c == ']' && !object):
			depth--
			i = skipSpace(b, i+1, space)
		default:
			return false
		}
	}
}

func skipSpace(b []byte, i int, space bool) int {
	for space && i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// scanMember reads `"key":` at b[i] and returns where its value starts, or -1.
func scanMember(b []byte, i int, space bool) int {
	if i >= len(b) || b[i] != '"' {
		return -1
	}
	if i = scanString(b, i); i < 0 {
		return -1
	}
	if i = skipSpace(b, i, space); i >= len(b) || b[i] != ':' {
		return -1
	}
	return skipSpace(b, i+1, space)
}

// scanScalar reads a string, number, true, false or null at b[i] (in
// bounds) and returns the index past it, or -1.
func scanScalar(b []byte, i int) int {
	var lit string
	switch b[i] {
	case '"':
		return scanString(b, i)
	case 't':
		lit = "true"
	case 'f':
		lit = "false"
	case 'n':
		lit = "null"
	default:
		return scanNumber(b, i)
	}
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return -1
	}
	return i + len(lit)
}

// scanString reads the JSON string that opens at b[i] and returns the index
// past its closing quote, or -1 if it is not a valid string in valid UTF-8.
func scanString(b []byte, i int) int {
	for i++; i < len(b); {
		c := b[i]
		switch {
		case safe[c]:
			// Byte by byte through short runs (keys, small values), words
			// at a time once a run is long.
			run := i
			for i++; i < len(b) && safe[b[i]] && i-run < 16; i++ {
			}
			if i-run >= 16 {
				i += plainRun(b[i:])
			}
		case c == '"':
			return i + 1
		case c == '\\':
			if i+1 >= len(b) {
				return -1
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if len(b)-i < 6 || !isHex(b[i+2]) || !isHex(b[i+3]) || !isHex(b[i+4]) || !isHex(b[i+5]) {
					return -1
				}
				i += 6
			default:
				return -1
			}
		case c < utf8.RuneSelf: // a control character
			return -1
		default:
			r, n := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && n == 1 {
				return -1
			}
			i += n
		}
	}
	return -1
}

func isHex(c byte) bool {
	return ('0' <= c && c <= '9') || ('a' <= c && c <= 'f') || ('A' <= c && c <= 'F')
}

// scanNumber reads -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? at b[i]
// and returns the index past it, or -1.
func scanNumber(b []byte, i int) int {
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && '1' <= b[i] && b[i] <= '9':
		i = scanDigits(b, i)
	default:
		return -1
	}
	if i < len(b) && b[i] == '.' {
		if j := scanDigits(b, i+1); j > i+1 {
			i = j
		} else {
			return -1
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := scanDigits(b, i)
		if j == i {
			return -1
		}
		i = j
	}
	return i
}

func scanDigits(b []byte, i int) int {
	for i < len(b) && '0' <= b[i] && b[i] <= '9' {
		i++
	}
	return i
}

const hex = "0123456789abcdef"

const (
	lo8 = 0x0101010101010101
	hi8 = 0x8080808080808080
)

// escapeBits is zero exactly when none of the eight bytes of w is a
// control character, '"', '\\' or not ASCII. Below the lowest such byte
// no subtraction borrows, so that byte sets its high bit in one of the
// terms (w itself at 0x80 and above; w-0x20 below 0x20; w^c-1 at c);
// bytes in 0x20–0x7f other than the two give no high bit and no borrow.
// Bytes above the lowest may be flagged too: callers want "any", then
// find the byte one at a time.
func escapeBits(w uint64) uint64 {
	return (w | (w - 0x20*lo8) | ((w ^ '"'*lo8) - lo8) | ((w ^ '\\'*lo8) - lo8)) & hi8
}

// plainRun is how many bytes from the start of s need no escaping, counted
// thirty-two then eight at a time: a multiple of eight, up to the word
// holding the first byte that needs it.
func plainRun(s []byte) int {
	j := 0
	for ; j+32 <= len(s); j += 32 {
		w := s[j : j+32 : j+32]
		if escapeBits(binary.LittleEndian.Uint64(w))|escapeBits(binary.LittleEndian.Uint64(w[8:]))|
			escapeBits(binary.LittleEndian.Uint64(w[16:]))|escapeBits(binary.LittleEndian.Uint64(w[24:])) != 0 {
			break
		}
	}
	for ; j+8 <= len(s); j += 8 {
		if escapeBits(binary.LittleEndian.Uint64(s[j:])) != 0 {
			break
		}
	}
	return j
}

// safe marks the ASCII bytes a JSON string holds as they are.
var safe = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// AppendJSONString appends s as a quoted JSON string. Each byte of invalid
// UTF-8 becomes U+FFFD (as encoding/json does), control characters and
// U+2028/U+2029 are escaped; the output is always valid JSON in valid UTF-8.
// It checks words at a time and does not allocate beyond growing dst.
func AppendJSONString(dst, s []byte) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		// Copy the run of bytes that need no escaping in one go, checking
		// words at a time.
		j := i + plainRun(s[i:])
		for j < len(s) && safe[s[j]] {
			j++
		}
		dst = append(dst, s[i:j]...)
		if i = j; i >= len(s) {
			break
		}
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c == '\n':
				dst = append(dst, '\\', 'n')
			case c == '\r':
				dst = append(dst, '\\', 'r')
			case c == '\t':
				dst = append(dst, '\\', 't')
			case c < 0x20:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && n == 1 {
			dst = append(dst, `\ufffd`...)
		} else if r == '\u2028' || r == '\u2029' {
			dst = append(dst, `\u`...)
			dst = strconv.AppendInt(dst, int64(r), 16)
		} else {
			dst = append(dst, s[i:i+n]...)
		}
		i += n
	}
	return append(dst, '"')
}
