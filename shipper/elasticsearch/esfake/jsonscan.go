package esfake

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// tokKind names a JSON token the way Elasticsearch's XContentParser does, so
// that error reasons read like the real server's ("expected START_OBJECT but
// found [START_ARRAY]").
type tokKind uint8

const (
	tEOF tokKind = iota
	tStartObject
	tEndObject
	tStartArray
	tEndArray
	tField
	tString
	tNumber
	tBool
	tNull
)

func (k tokKind) String() string {
	switch k {
	case tStartObject:
		return "START_OBJECT"
	case tEndObject:
		return "END_OBJECT"
	case tStartArray:
		return "START_ARRAY"
	case tEndArray:
		return "END_ARRAY"
	case tField:
		return "FIELD_NAME"
	case tString:
		return "VALUE_STRING"
	case tNumber:
		return "VALUE_NUMBER"
	case tBool:
		return "VALUE_BOOLEAN"
	case tNull:
		return "VALUE_NULL"
	}
	return "null" // Jackson's nextToken() at the end of input
}

func (k tokKind) isValue() bool { return k == tString || k == tNumber || k == tBool }

// token is one JSON token: raw holds its bytes (a string or field name with
// its quotes), col its 1-based column.
type token struct {
	kind tokKind
	raw  []byte
	col  int
}

// text returns a scalar's text as Elasticsearch's parser.text() does: a
// string unquoted, a number or boolean as written.
func (t token) text() (string, error) {
	if t.kind == tString || t.kind == tField {
		return unquote(t.raw)
	}
	return string(t.raw), nil
}

// plain returns a string token's contents when it has no escapes, without
// copying (ok is false when it must be unquoted).
func (t token) plain() (b []byte, ok bool) {
	if t.kind != tString && t.kind != tField {
		return t.raw, true
	}
	body := t.raw[1 : len(t.raw)-1]
	for _, c := range body {
		if c == '\\' {
			return nil, false
		}
	}
	return body, true
}

// name returns a field name, interned in names when it has no escapes so
// that the usual metadata keys cost no allocation.
func (t token) name() string {
	if b, ok := t.plain(); ok {
		switch string(b) {
		case "create":
			return "create"
		case "index":
			return "index"
		case "update":
			return "update"
		case "delete":
			return "delete"
		case "_index":
			return "_index"
		case "_id":
			return "_id"
		}
		return string(b)
	}
	s, _ := unquote(t.raw)
	return s
}

// syntaxError is malformed JSON at a column of the line being read.
type syntaxError struct {
	col int
	msg string
	eof bool // the input ended inside a value
}

func (e *syntaxError) Error() string { return fmt.Sprintf("[1:%d] %s", e.col, e.msg) }

// scanner reads one NDJSON line as strict JSON (RFC 8259), token by token.
// It does not allocate beyond its container stack. After one complete
// top-level value it goes on reading further values as Jackson does, so the
// caller can report "extra data" the way Elasticsearch does.
type scanner struct {
	b     []byte
	pos   int
	stack []tokKind // open containers: tStartObject or tStartArray
	state scanState
}

type scanState uint8

const (
	sValue        scanState = iota // a value must come (top level, after ':' or ',' in an array)
	sValueOrClose                  // after '[': a value or ']'
	sFieldOrClose                  // after '{': a field name or '}'
	sField                         // after ',' in an object: a field name
	sCommaOrClose                  // after a value inside a container
	sEnd                           // after a complete top-level value
)

func (s *scanner) reset(b []byte) {
	s.b, s.pos, s.stack, s.state = b, 0, s.stack[:0], sValue
}

func (s *scanner) skipSpace() {
	for s.pos < len(s.b) {
		switch s.b[s.pos] {
		case ' ', '\t', '\r', '\n':
			s.pos++
		default:
			return
		}
	}
}

func (s *scanner) errf(format string, args ...any) error {
	return &syntaxError{col: s.pos + 1, msg: fmt.Sprintf(format, args...)}
}

// next returns the next token, tEOF at the end of the input.
func (s *scanner) next() (token, error) {
	s.skipSpace()
	if s.pos >= len(s.b) {
		switch s.state {
		case sEnd:
			return token{kind: tEOF, col: s.pos + 1}, nil
		case sValue:
			if len(s.stack) == 0 {
				return token{kind: tEOF, col: s.pos + 1}, nil
			}
		}
		return token{}, &syntaxError{col: s.pos + 1, eof: true, msg: "Unexpected end-of-input: expected close marker for " + containerName(s.top())}
	}
	c := s.b[s.pos]
	col := s.pos + 1
	switch s.state {
	case sEnd:
		s.state = sValue // a second top-level value
	case sCommaOrClose:
		top := s.top()
		switch {
		case c == ',':
			s.pos++
			if top == tStartObject {
				s.state = sField
			} else {
				s.state = sValue
			}
			return s.next()
		case c == '}' && top == tStartObject, c == ']' && top == tStartArray:
			return s.closeContainer(col), nil
		}
		return token{}, s.errf("Unexpected character (%s): was expecting comma to separate %s entries", printable(c), containerName(top))
	case sFieldOrClose, sField:
		if c == '}' && s.state == sFieldOrClose {
			return s.closeContainer(col), nil
		}
		if c != '"' {
			return token{}, s.errf("Unexpected character (%s): was expecting double-quote to start field name", printable(c))
		}
		raw, err := s.readString()
		if err != nil {
			return token{}, err
		}
		s.skipSpace()
		if s.pos >= len(s.b) || s.b[s.pos] != ':' {
			return token{}, s.errf("Unexpected character (%s): was expecting a colon to separate field name and value", s.peekPrintable())
		}
		s.pos++
		s.state = sValue
		return token{kind: tField, raw: raw, col: col}, nil
	case sValueOrClose:
		if c == ']' {
			return s.closeContainer(col), nil
		}
	}
	switch {
	case c == '{':
		s.pos++
		s.stack = append(s.stack, tStartObject)
		s.state = sFieldOrClose
		return token{kind: tStartObject, raw: s.b[col-1 : col], col: col}, nil
	case c == '[':
		s.pos++
		s.stack = append(s.stack, tStartArray)
		s.state = sValueOrClose
		return token{kind: tStartArray, raw: s.b[col-1 : col], col: col}, nil
	case c == '"':
		raw, err := s.readString()
		if err != nil {
			return token{}, err
		}
		s.valueDone()
		return token{kind: tString, raw: raw, col: col}, nil
	case c == '-' || (c >= '0' && c <= '9'):
		raw, err := s.readNumber()
		if err != nil {
			return token{}, err
		}
		s.valueDone()
		return token{kind: tNumber, raw: raw, col: col}, nil
	case c == 't', c == 'f', c == 'n':
		for _, lit := range [...]string{"true", "false", "null"} {
			end := s.pos + len(lit)
			if end <= len(s.b) && string(s.b[s.pos:end]) == lit && (end == len(s.b) || !isIdentByte(s.b[end])) {
				s.pos = end
				s.valueDone()
				kind := tBool
				if lit == "null" {
					kind = tNull
				}
				return token{kind: kind, raw: s.b[col-1 : end], col: col}, nil
			}
		}
		return token{}, &syntaxError{col: col, msg: fmt.Sprintf("Unrecognized token '%s': was expecting (JSON String, Number, Array, Object or token 'null', 'true' or 'false')", identAt(s.b, col-1))}
	case c == '}' || c == ']':
		return token{}, s.errf("Unexpected character (%s): expected a value", printable(c))
	}
	return token{}, s.errf("Unexpected character (%s): expected a valid value (JSON String, Number, Array, Object or token 'null', 'true' or 'false')", printable(c))
}

func (s *scanner) top() tokKind {
	if len(s.stack) == 0 {
		return tStartObject
	}
	return s.stack[len(s.stack)-1]
}

func (s *scanner) closeContainer(col int) token {
	kind := tEndObject
	if s.top() == tStartArray {
		kind = tEndArray
	}
	s.stack = s.stack[:len(s.stack)-1]
	s.pos++
	s.valueDone()
	return token{kind: kind, raw: s.b[col-1 : col], col: col}
}

func (s *scanner) valueDone() {
	if len(s.stack) == 0 {
		s.state = sEnd
	} else {
		s.state = sCommaOrClose
	}
}

func (s *scanner) peekPrintable() string {
	if s.pos >= len(s.b) {
		return "end-of-input"
	}
	return printable(s.b[s.pos])
}

func containerName(k tokKind) string {
	if k == tStartArray {
		return "Array"
	}
	return "Object"
}

// printable renders a byte as Jackson does in its messages: 'c' (code 99).
func printable(c byte) string {
	if c < 0x20 {
		return fmt.Sprintf("CTRL-CHAR, code %d", c)
	}
	if c >= 0x7f {
		return fmt.Sprintf("code %d", c)
	}
	return fmt.Sprintf("'%c' (code %d)", c, c)
}

func isIdentByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
}

func identAt(b []byte, i int) string {
	j := i
	for j < len(b) && j-i < 64 && isIdentByte(b[j]) {
		j++
	}
	if j == i {
		return string(b[i : i+1])
	}
	return string(b[i:j])
}

// readString reads a string at s.pos (a '"') and returns it with its quotes.
func (s *scanner) readString() ([]byte, error) {
	start := s.pos
	s.pos++
	for s.pos < len(s.b) {
		// Skip plain ASCII eight bytes at a time.
		for s.pos+8 <= len(s.b) && !special8(binary.LittleEndian.Uint64(s.b[s.pos:])) {
			s.pos += 8
		}
		if s.pos >= len(s.b) {
			break
		}
		c := s.b[s.pos]
		switch {
		case c == '"':
			s.pos++
			return s.b[start:s.pos], nil
		case c == '\\':
			if s.pos+1 >= len(s.b) {
				s.pos++
				return nil, s.errf("Unexpected end-of-input in character escape sequence")
			}
			switch e := s.b[s.pos+1]; e {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.pos += 2
			case 'u':
				if s.pos+6 > len(s.b) || !isHex4(s.b[s.pos+2:s.pos+6]) {
					return nil, s.errf("Unexpected character in unicode escape: expected a hex-digit")
				}
				s.pos += 6
			default:
				return nil, s.errf("Unrecognized character escape %s", printable(e))
			}
		case c < 0x20:
			return nil, s.errf("Illegal unquoted character (%s): has to be escaped using backslash to be included in string value", printable(c))
		case c < utf8.RuneSelf:
			s.pos++
		default:
			r, n := utf8.DecodeRune(s.b[s.pos:])
			if r == utf8.RuneError && n <= 1 {
				return nil, s.errf("Invalid UTF-8 start byte 0x%02x", c)
			}
			s.pos += n
		}
	}
	return nil, s.errf("Unexpected end-of-input: was expecting closing quote for a string value")
}

const (
	lo8 = 0x0101010101010101
	hi8 = 0x8080808080808080
)

// special8 tells whether any of the eight bytes of w is a control
// character, '"', '\\' or not ASCII (the classic SWAR zero-byte tests).
func special8(w uint64) bool {
	return special8Bits(w) != 0
}

// special8Bits is non-zero when special8 is true. With no byte at 0x80 or
// above (w's high bits are ORed in), the borrows of the three subtractions
// reach a byte's high bit exactly when that byte is below 0x20, '"' or '\\'
// (the usual "has less than" and "has zero" tricks, without their ^w terms,
// which are all ones there).
func special8Bits(w uint64) uint64 {
	return (w | (w - 0x20*lo8) | ((w ^ '"'*lo8) - lo8) | ((w ^ '\\'*lo8) - lo8)) & hi8
}

func isHex4(b []byte) bool {
	for _, c := range b {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// readNumber reads an RFC 8259 number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *scanner) readNumber() ([]byte, error) {
	start := s.pos
	if s.b[s.pos] == '-' {
		s.pos++
	}
	digits := func() int {
		n := 0
		for s.pos < len(s.b) && s.b[s.pos] >= '0' && s.b[s.pos] <= '9' {
			s.pos++
			n++
		}
		return n
	}
	if s.pos < len(s.b) && s.b[s.pos] == '0' {
		s.pos++
		if s.pos < len(s.b) && s.b[s.pos] >= '0' && s.b[s.pos] <= '9' {
			return nil, s.errf("Invalid numeric value: Leading zeroes not allowed")
		}
	} else if digits() == 0 {
		return nil, s.errf("Unexpected character (%s) in numeric value: expected digit (0-9) to follow minus sign, for valid numeric value", s.peekPrintable())
	}
	if s.pos < len(s.b) && s.b[s.pos] == '.' {
		s.pos++
		if digits() == 0 {
			return nil, s.errf("Unexpected character (%s) in numeric value: Decimal point not followed by a digit", s.peekPrintable())
		}
	}
	if s.pos < len(s.b) && (s.b[s.pos] == 'e' || s.b[s.pos] == 'E') {
		s.pos++
		if s.pos < len(s.b) && (s.b[s.pos] == '+' || s.b[s.pos] == '-') {
			s.pos++
		}
		if digits() == 0 {
			return nil, s.errf("Unexpected character (%s) in numeric value: Exponent indicator not followed by a digit", s.peekPrintable())
		}
	}
	if s.pos < len(s.b) && isIdentByte(s.b[s.pos]) {
		return nil, s.errf("Unexpected character (%s) in numeric value", printable(s.b[s.pos]))
	}
	return s.b[start:s.pos], nil
}

var errBadEscape = errors.New("invalid string escape")

// unquote decodes a scanned JSON string (quotes included). The scanner has
// validated it, so only the decoding is done here.
func unquote(raw []byte) (string, error) {
	body := raw[1 : len(raw)-1]
	plain := true
	for _, c := range body {
		if c == '\\' {
			plain = false
			break
		}
	}
	if plain {
		return string(body), nil
	}
	s, err := strconv.Unquote(string(raw))
	if err == nil {
		return s, nil
	}
	// strconv rejects \/ and surrogate pairs written as two \u escapes.
	out := make([]rune, 0, len(body))
	for i := 0; i < len(body); {
		if body[i] != '\\' {
			r, n := utf8.DecodeRune(body[i:])
			out = append(out, r)
			i += n
			continue
		}
		if i+1 >= len(body) {
			return "", errBadEscape
		}
		switch e := body[i+1]; e {
		case '"', '\\', '/':
			out = append(out, rune(e))
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			if i+6 > len(body) {
				return "", errBadEscape
			}
			v, err := strconv.ParseUint(string(body[i+2:i+6]), 16, 32)
			if err != nil {
				return "", errBadEscape
			}
			r := rune(v)
			if r >= 0xd800 && r < 0xdc00 && i+12 <= len(body) && body[i+6] == '\\' && body[i+7] == 'u' {
				if lo, err := strconv.ParseUint(string(body[i+8:i+12]), 16, 32); err == nil && lo >= 0xdc00 && lo < 0xe000 {
					r = 0x10000 + (r-0xd800)<<10 + (rune(lo) - 0xdc00)
					i += 6
				}
			}
			out = append(out, r)
			i += 4
		default:
			return "", errBadEscape
		}
		i += 2
	}
	return string(out), nil
}

// skipValue reads the value that starts with tok (already read) to its end.
func (s *scanner) skipValue(tok token) error {
	if tok.kind != tStartObject && tok.kind != tStartArray {
		return nil
	}
	depth := 1
	for depth > 0 {
		t, err := s.next()
		if err != nil {
			return err
		}
		switch t.kind {
		case tStartObject, tStartArray:
			depth++
		case tEndObject, tEndArray:
			depth--
		case tEOF:
			return s.errf("Unexpected end-of-input: expected close marker")
		}
	}
	return nil
}
