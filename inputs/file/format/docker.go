package format

import (
	"bytes"
	"errors"
	"unicode/utf8"
)

var (
	errDocker  = errors.New("not a Docker json-file line (want {\"log\":…,\"stream\":…,\"time\":…})")
	errJSONStr = errors.New("bad JSON string")
)

// ParseDocker parses a line of Docker's json-file log driver:
// {"log":"text\n","stream":"stdout","time":"2024-01-02T03:04:05.123456789Z"}.
// The unescaped message is appended to dst[:0], which is returned for reuse;
// Body points into it. A message without its trailing newline is a line
// Docker split (at 16 KiB): Partial is set and the next entry continues it.
func ParseDocker(line, dst []byte) (Entry, []byte, error) {
	var e Entry
	dst = dst[:0]
	p := parser{b: line}
	p.ws()
	if !p.eat('{') {
		return e, dst, errDocker
	}
	p.ws()
	sawLog := false
	if p.eat('}') {
		return e, dst, errDocker
	}
	for {
		p.ws()
		key, ok := p.rawString()
		if !ok {
			return e, dst, errDocker
		}
		p.ws()
		if !p.eat(':') {
			return e, dst, errDocker
		}
		p.ws()
		switch string(key) {
		case "log":
			var err error
			if dst, err = p.unescape(dst); err != nil {
				return e, dst, err
			}
			sawLog = true
		case "stream":
			s, ok := p.rawString()
			if !ok {
				return e, dst, errDocker
			}
			var err error
			if e.Stream, err = parseStream(s); err != nil {
				return e, dst, err
			}
		case "time":
			s, ok := p.rawString()
			if !ok {
				return e, dst, errDocker
			}
			ts, err := ParseTime(s)
			if err != nil {
				return e, dst, err
			}
			e.Time = ts
		default:
			if err := p.skip(0); err != nil {
				return e, dst, err
			}
		}
		p.ws()
		if p.eat(',') {
			continue
		}
		if p.eat('}') {
			break
		}
		return e, dst, errDocker
	}
	p.ws()
	if p.i != len(p.b) || !sawLog {
		return e, dst, errDocker
	}
	e.Body = dst
	if n := len(dst); n > 0 && dst[n-1] == '\n' {
		e.Body = dst[:n-1]
	} else {
		e.Partial = true
	}
	return e, dst, nil
}

// parser is a minimal JSON scanner over one line: enough to pick fields out
// of an object without building it.
type parser struct {
	b []byte
	i int
}

func (p *parser) ws() {
	i, b := p.i, p.b
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n') {
		i++
	}
	p.i = i
}

func (p *parser) eat(c byte) bool {
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

// rawString returns the bytes of a string without unescaping it (keys and
// short values such as stream and time never hold escapes).
func (p *parser) rawString() ([]byte, bool) {
	if !p.eat('"') {
		return nil, false
	}
	start, b := p.i, p.b
	for i := start; ; {
		q := bytes.IndexByte(b[i:], '"')
		if q < 0 {
			return nil, false
		}
		i += q
		// The quote ends the string unless an odd run of backslashes
		// escapes it.
		n := 0
		for j := i - 1; j >= start && b[j] == '\\'; j-- {
			n++
		}
		if n%2 == 0 {
			p.i = i + 1
			return b[start:i], true
		}
		i++
	}
}

func (p *parser) unescape(dst []byte) ([]byte, error) {
	if !p.eat('"') {
		return dst, errJSONStr
	}
	for p.i < len(p.b) {
		// Copy the run up to the next quote or backslash in one append.
		rest := p.b[p.i:]
		j := bytes.IndexByte(rest, '"')
		if j < 0 {
			j = len(rest)
		}
		if k := bytes.IndexByte(rest[:j], '\\'); k >= 0 {
			j = k
		}
		dst = append(dst, rest[:j]...)
		p.i += j
		if p.i >= len(p.b) {
			break
		}
		if p.b[p.i] == '"' {
			p.i++
			return dst, nil
		}
		if p.i+1 >= len(p.b) {
			break
		}
		c := p.b[p.i+1]
		p.i += 2
		switch c {
		case '"', '\\', '/':
			dst = append(dst, c)
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r, ok := p.hex4()
			if !ok {
				return dst, errJSONStr
			}
			if r >= 0xD800 && r < 0xDC00 {
				// A surrogate pair: the low half must follow.
				if p.i+1 < len(p.b) && p.b[p.i] == '\\' && p.b[p.i+1] == 'u' {
					p.i += 2
					lo, ok := p.hex4()
					if !ok {
						return dst, errJSONStr
					}
					if lo >= 0xDC00 && lo < 0xE000 {
						r = 0x10000 + (r-0xD800)<<10 + (lo - 0xDC00)
					} else {
						r = utf8.RuneError
					}
				} else {
					r = utf8.RuneError
				}
			} else if r >= 0xDC00 && r < 0xE000 {
				r = utf8.RuneError
			}
			dst = utf8.AppendRune(dst, r)
		default:
			return dst, errJSONStr
		}
	}
	return dst, errJSONStr
}

func (p *parser) hex4() (rune, bool) {
	if p.i+4 > len(p.b) {
		return 0, false
	}
	var r rune
	for _, c := range p.b[p.i : p.i+4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	p.i += 4
	return r, true
}
