package process

import (
	"encoding/binary"
	"unicode/utf16"
	"unicode/utf8"
)

// A JSON parser that turns an object into record fields without building
// it: keys and values without escapes are slices of the input, everything
// else is written once into the record's arena. It checks the whole grammar
// (strict JSON: no comments, no trailing commas, no raw control characters
// in strings), bounds nesting, the number of fields and the length of
// flattened keys, and never recurses deeper than the nesting bound.

// jsonLimits bound what one value may cost.
type jsonLimits struct {
	maxDepth  int  // nesting of objects and arrays
	maxFields int  // fields one parse may produce
	maxKey    int  // bytes of a flattened key; deeper objects stay JSON
	flatten   bool // nested objects become dotted keys
}

// jsonErr is a parse failure: what and at which byte.
type jsonErr struct {
	msg string
	at  int
}

var (
	errJSONSyntax = "syntax error"
	errJSONDepth  = "nesting too deep"
	errJSONFields = "too many fields"
	errJSONObject = "not an object"
)

type jsonParser struct {
	lim jsonLimits
	b   []byte
	i   int
	r   *Record
	n0  int // parseObjectFields: the record's fields before the parse
	err jsonErr
}

func (p *jsonParser) fail(msg string) bool {
	if p.err.msg == "" {
		p.err = jsonErr{msg: msg, at: p.i}
	}
	return false
}

func (p *jsonParser) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// parseObjectFields parses b, which must hold one object and nothing else,
// appending its members to the record's fields (from p.n0 on, duplicates
// included: the caller merges them) with keys prefixed by prefix (which
// ends in '.' or is empty). On failure the record's fields are as before.
func (p *jsonParser) parseObjectFields(b, prefix []byte) bool {
	p.b, p.i, p.err = b, 0, jsonErr{}
	p.n0 = len(p.r.Fields)
	p.ws()
	ok := p.i < len(p.b) && p.b[p.i] == '{' || p.fail(errJSONObject)
	ok = ok && p.members(prefix, 1)
	if ok {
		p.ws()
		ok = p.i == len(p.b) || p.fail(errJSONSyntax)
	}
	if !ok {
		clear(p.r.Fields[p.n0:])
		p.r.Fields = p.r.Fields[:p.n0]
	}
	return ok
}

// parseValue parses b, one value of any type, into its kind and canonical
// text.
func (p *jsonParser) parseValue(b []byte) (Kind, []byte, bool) {
	p.b, p.i, p.err = b, 0, jsonErr{}
	p.ws()
	kind, v, ok := p.leafOrCompact(0)
	if !ok {
		return 0, nil, false
	}
	p.ws()
	if p.i != len(p.b) {
		return 0, nil, p.fail(errJSONSyntax)
	}
	return kind, v, true
}

// members parses an object's members; p.i is at '{'.
func (p *jsonParser) members(prefix []byte, depth int) bool {
	if depth > p.lim.maxDepth {
		return p.fail(errJSONDepth)
	}
	p.i++ // {
	p.ws()
	if p.i < len(p.b) && p.b[p.i] == '}' {
		p.i++
		return true
	}
	for {
		p.ws()
		key, ok := p.str()
		if !ok {
			return false
		}
		p.ws()
		if p.i >= len(p.b) || p.b[p.i] != ':' {
			return p.fail(errJSONSyntax)
		}
		p.i++
		p.ws()
		if !p.member(prefix, key, depth) {
			return false
		}
		p.ws()
		if p.i >= len(p.b) {
			return p.fail(errJSONSyntax)
		}
		switch p.b[p.i] {
		case ',':
			p.i++
		case '}':
			p.i++
			return true
		default:
			return p.fail(errJSONSyntax)
		}
	}
}

// member parses one value of the object at depth and adds it as a field.
func (p *jsonParser) member(prefix, key []byte, depth int) bool {
	full := key
	if len(prefix) > 0 {
		m := p.r.mark()
		p.r.arena = append(append(p.r.arena, prefix...), key...)
		full = p.r.since(m)
	}
	if p.i < len(p.b) && p.b[p.i] == '{' && p.lim.flatten && len(full)+1 <= p.lim.maxKey && !p.emptyObject() {
		m := p.r.mark()
		p.r.arena = append(append(p.r.arena, full...), '.')
		return p.members(p.r.since(m), depth+1)
	}
	kind, v, ok := p.leafOrCompact(depth)
	if !ok {
		return false
	}
	if len(p.r.Fields)-p.n0 >= p.lim.maxFields {
		return p.fail(errJSONFields)
	}
	p.r.Fields = append(p.r.Fields, Field{Key: full, Value: v, Kind: kind})
	return true
}

// emptyObject reports whether the object at p.i is {} (kept as a JSON
// value: flattening it would lose it).
func (p *jsonParser) emptyObject() bool {
	j := p.i + 1
	for j < len(p.b) && (p.b[j] == ' ' || p.b[j] == '\t' || p.b[j] == '\n' || p.b[j] == '\r') {
		j++
	}
	return j < len(p.b) && p.b[j] == '}'
}

// leafOrCompact parses a scalar into its kind and canonical text, or an
// object or array (within depth) into compact JSON.
func (p *jsonParser) leafOrCompact(depth int) (Kind, []byte, bool) {
	if p.i >= len(p.b) {
		return 0, nil, p.fail(errJSONSyntax)
	}
	switch c := p.b[p.i]; {
	case c == '"':
		v, ok := p.str()
		return KindString, v, ok
	case c == '{' || c == '[':
		start, m := p.i, p.r.mark()
		clean, ok := p.skipValue(depth + 1)
		if !ok {
			return 0, nil, false
		}
		if clean {
			return KindJSON, p.b[start:p.i], true
		}
		p.r.arena = appendCompact(p.r.arena, p.b[start:p.i])
		return KindJSON, p.r.since(m), true
	case c == 't':
		return p.literal("true", KindBool)
	case c == 'f':
		return p.literal("false", KindBool)
	case c == 'n':
		k, _, ok := p.literal("null", KindNull)
		return k, nil, ok
	case c == '-' || (c >= '0' && c <= '9'):
		start := p.i
		if !p.number() {
			return 0, nil, false
		}
		k, v := canonicalNumber(p.r, p.b[start:p.i])
		return k, v, true
	}
	return 0, nil, p.fail(errJSONSyntax)
}

func (p *jsonParser) literal(word string, kind Kind) (Kind, []byte, bool) {
	if len(p.b)-p.i < len(word) || string(p.b[p.i:p.i+len(word)]) != word {
		return 0, nil, p.fail(errJSONSyntax)
	}
	v := p.b[p.i : p.i+len(word)]
	p.i += len(word)
	return kind, v, true
}

// number checks the JSON number grammar.
func (p *jsonParser) number() bool {
	b, i := p.b, p.i
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		p.i = i
		return p.fail(errJSONSyntax)
	}
	if i < len(b) && b[i] == '.' {
		i++
		d := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == d {
			p.i = i
			return p.fail(errJSONSyntax)
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		d := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == d {
			p.i = i
			return p.fail(errJSONSyntax)
		}
	}
	p.i = i
	return true
}

// str parses a string at p.i and returns its content: a slice of the input
// when it has no escapes, else the unescaped text in the arena.
func (p *jsonParser) str() ([]byte, bool) {
	if p.i >= len(p.b) || p.b[p.i] != '"' {
		return nil, p.fail(errJSONSyntax)
	}
	p.i++
	start := p.i
	p.i += plainRun(p.b[p.i:])
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			v := p.b[start:p.i]
			p.i++
			return v, true
		case c == '\\':
			return p.unescape(start)
		case c < 0x20:
			return nil, p.fail(errJSONSyntax)
		}
		p.i++
	}
	return nil, p.fail(errJSONSyntax)
}

// plainRun returns how many leading bytes of b need no attention inside a
// string (not a quote, a backslash or a control character), eight at a time.
func plainRun(b []byte) int {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	i := 0
	for ; i+8 <= len(b); i += 8 {
		x := binary.LittleEndian.Uint64(b[i:])
		q := x ^ (lo * '"')
		s := x ^ (lo * '\\')
		// (v - lo) &^ v & hi is nonzero iff some byte of v is zero; with
		// lo*0x20 for lo, iff some byte is below 0x20.
		if ((x-lo*0x20)&^x|(q-lo)&^q|(s-lo)&^s)&hi != 0 {
			break
		}
	}
	return i
}

// unescape continues str from the first backslash, writing into the arena.
func (p *jsonParser) unescape(start int) ([]byte, bool) {
	m := p.r.mark()
	p.r.arena = append(p.r.arena, p.b[start:p.i]...)
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			p.i++
			return p.r.since(m), true
		case c < 0x20:
			return nil, p.fail(errJSONSyntax)
		case c != '\\':
			p.r.arena = append(p.r.arena, c)
			p.i++
			continue
		}
		if p.i+1 >= len(p.b) {
			return nil, p.fail(errJSONSyntax)
		}
		e := p.b[p.i+1]
		p.i += 2
		switch e {
		case '"', '\\', '/':
			p.r.arena = append(p.r.arena, e)
		case 'b':
			p.r.arena = append(p.r.arena, '\b')
		case 'f':
			p.r.arena = append(p.r.arena, '\f')
		case 'n':
			p.r.arena = append(p.r.arena, '\n')
		case 'r':
			p.r.arena = append(p.r.arena, '\r')
		case 't':
			p.r.arena = append(p.r.arena, '\t')
		case 'u':
			r, ok := p.hex4()
			if !ok {
				return nil, p.fail(errJSONSyntax)
			}
			if utf16.IsSurrogate(r) {
				r2 := rune(-1)
				if p.i+1 < len(p.b) && p.b[p.i] == '\\' && p.b[p.i+1] == 'u' {
					save := p.i
					p.i += 2
					if r2, ok = p.hex4(); !ok {
						return nil, p.fail(errJSONSyntax)
					}
					if utf16.DecodeRune(r, r2) == utf8.RuneError {
						p.i, r2 = save, -1 // not a pair: the second escape stands alone
					}
				}
				if r2 < 0 {
					r = utf8.RuneError
				} else {
					r = utf16.DecodeRune(r, r2)
				}
			}
			p.r.arena = utf8.AppendRune(p.r.arena, r)
		default:
			return nil, p.fail(errJSONSyntax)
		}
	}
	return nil, p.fail(errJSONSyntax)
}

func (p *jsonParser) hex4() (rune, bool) {
	if p.i+4 > len(p.b) {
		return 0, false
	}
	var r rune
	for _, c := range p.b[p.i : p.i+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	p.i += 4
	return r, true
}

// maxJSONDepth bounds max_depth, and so skipValue's stack.
const maxJSONDepth = 128

// skipValue checks the object or array at p.i, which sits at depth, and
// reports whether it is already compact (no whitespace between tokens). It
// keeps its own stack of open brackets in a fixed array, so it does not
// recurse whatever the input.
func (p *jsonParser) skipValue(depth int) (clean, ok bool) {
	var stack [maxJSONDepth + 1]byte
	n := 0
	clean = true
	space := func() {
		if j := p.i; j < len(p.b) {
			p.ws()
			clean = clean && p.i == j
		}
	}
	key := func() bool {
		if !p.skipString() {
			return false
		}
		space()
		if p.i >= len(p.b) || p.b[p.i] != ':' {
			return p.fail(errJSONSyntax)
		}
		p.i++
		return true
	}
	afterValue := false
	for {
		space()
		if p.i >= len(p.b) {
			return false, p.fail(errJSONSyntax)
		}
		c := p.b[p.i]
		if afterValue {
			switch {
			case c == ',':
				p.i++
				afterValue = false
				if stack[n-1] == '{' {
					space()
					if !key() {
						return false, false
					}
				}
			case c == closer(stack[n-1]):
				p.i++
				if n--; n == 0 {
					return clean, true
				}
			default:
				return false, p.fail(errJSONSyntax)
			}
			continue
		}
		switch c {
		case '{', '[':
			if depth+n > p.lim.maxDepth {
				return false, p.fail(errJSONDepth)
			}
			stack[n] = c
			n++
			p.i++
			space()
			if p.i < len(p.b) && p.b[p.i] == closer(c) {
				p.i++
				if n--; n == 0 {
					return clean, true
				}
				afterValue = true
				continue
			}
			if c == '{' && !key() {
				return false, false
			}
		default:
			if _, _, ok := p.scalar(); !ok {
				return false, false
			}
			afterValue = true
		}
	}
}

func closer(open byte) byte {
	if open == '{' {
		return '}'
	}
	return ']'
}

// scalar checks a string, number or literal at p.i.
func (p *jsonParser) scalar() (Kind, []byte, bool) {
	switch c := p.b[p.i]; {
	case c == '"':
		return KindString, nil, p.skipString()
	case c == 't':
		return p.literal("true", KindBool)
	case c == 'f':
		return p.literal("false", KindBool)
	case c == 'n':
		return p.literal("null", KindNull)
	case c == '-' || (c >= '0' && c <= '9'):
		return KindFloat, nil, p.number()
	}
	return 0, nil, p.fail(errJSONSyntax)
}

// skipString checks a string without unescaping it.
func (p *jsonParser) skipString() bool {
	if p.i >= len(p.b) || p.b[p.i] != '"' {
		return p.fail(errJSONSyntax)
	}
	p.i++
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			p.i++
			return true
		case c < 0x20:
			return p.fail(errJSONSyntax)
		case c == '\\':
			if p.i+1 >= len(p.b) {
				return p.fail(errJSONSyntax)
			}
			switch p.b[p.i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				p.i += 2
			case 'u':
				p.i += 2
				if _, ok := p.hex4(); !ok {
					return p.fail(errJSONSyntax)
				}
			default:
				return p.fail(errJSONSyntax)
			}
			continue
		}
		p.i++
	}
	return p.fail(errJSONSyntax)
}

// appendCompact appends JSON text v without the whitespace between tokens;
// v has been checked.
func appendCompact(dst, v []byte) []byte {
	in := false
	for i := 0; i < len(v); i++ {
		c := v[i]
		if in {
			dst = append(dst, c)
			switch c {
			case '\\':
				i++
				dst = append(dst, v[i])
			case '"':
				in = false
			}
			continue
		}
		switch c {
		case ' ', '\t', '\n', '\r':
		case '"':
			in = true
			dst = append(dst, c)
		default:
			dst = append(dst, c)
		}
	}
	return dst
}
