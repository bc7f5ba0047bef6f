package format

import (
	"bytes"
	"errors"
)

// Why a JSON line did not parse: the values of the record attribute
// json_error (docs/inputs-file.md). Short and few, so that they can be
// counted and grouped by.
var (
	ErrJSONEnd      = errors.New("unexpected end")       // the line ends inside a value (cut at max_line_bytes, or half written)
	ErrJSONString   = errors.New("bad string")           // an unterminated string or a bad escape
	ErrJSONSyntax   = errors.New("syntax error")         // a byte where no JSON can have it
	ErrJSONDepth    = errors.New("nested too deeply")    // more than 64 levels of objects and arrays
	ErrJSONTrailing = errors.New("data after the value") // a whole value followed by more than white space
)

// JSONErrors lists every error CheckJSON returns.
var JSONErrors = []error{ErrJSONEnd, ErrJSONString, ErrJSONSyntax, ErrJSONDepth, ErrJSONTrailing}

// JSONTime returns the time a JSON log line states in a top-level field
// "time", "timestamp", "@timestamp", "ts", "@t", "timeMillis", "asctime" or
// "Timestamp", as a string ParseLogTime reads or as a number of seconds,
// milliseconds, microseconds or nanoseconds since 1970 (ParseEpoch); the
// first such field that parses wins. It returns 0 if there is none. It scans
// the object without building it and never allocates.
func JSONTime(line []byte) int64 {
	ts, _ := CheckJSON(line)
	return ts
}

// CheckJSON checks that line is one JSON value and returns the time it
// states (see JSONTime; found even when the line turns out bad after it) and
// the first reason it is not JSON, one of JSONErrors. Numbers and literals
// are checked to the grammar; strings for their escapes, not for control
// characters or UTF-8.
func CheckJSON(line []byte) (ts int64, err error) {
	p := parser{b: line}
	p.ws()
	if p.i < len(p.b) && p.b[p.i] == '{' {
		ts, err = p.topObject()
	} else {
		err = p.skip(0)
	}
	if err != nil {
		return ts, err
	}
	p.ws()
	if p.i != len(p.b) {
		return ts, ErrJSONTrailing
	}
	return ts, nil
}

// topObject passes over the line's object, reading the time fields.
func (p *parser) topObject() (ts int64, err error) {
	p.i++ // '{'
	p.ws()
	if p.eat('}') {
		return 0, nil
	}
	for {
		p.ws()
		key, err := p.str()
		if err != nil {
			return ts, err
		}
		p.ws()
		if err := p.expect(':'); err != nil {
			return ts, err
		}
		p.ws()
		start := p.i
		if err := p.skip(1); err != nil {
			return ts, err
		}
		if ts == 0 && isTimeKey(key) {
			ts = valueTime(p.b[start:p.i])
		}
		p.ws()
		if p.eat(',') {
			continue
		}
		return ts, p.expect('}')
	}
}

func isTimeKey(k []byte) bool {
	switch string(k) { // no allocation: the compiler compares in place
	case "time", "timestamp", "@timestamp", "ts", "@t", "timeMillis", "asctime", "Timestamp":
		return true
	}
	return false
}

// valueTime reads a time from a JSON value already checked: a string or a
// number. Anything else, or a time before 1970, is no time (0).
func valueTime(v []byte) int64 {
	if len(v) >= 2 && v[0] == '"' {
		v = v[1 : len(v)-1]
	}
	ts, err := ParseLogTime(v)
	if err != nil || ts < 0 {
		return 0
	}
	return ts
}

// expect consumes c or says what is wrong instead.
func (p *parser) expect(c byte) error {
	if p.eat(c) {
		return nil
	}
	if p.i >= len(p.b) {
		return ErrJSONEnd
	}
	return ErrJSONSyntax
}

// str passes over a string, checking its escapes, and returns its raw
// content.
func (p *parser) str() ([]byte, error) {
	if p.i >= len(p.b) {
		return nil, ErrJSONEnd
	}
	if p.b[p.i] != '"' {
		return nil, ErrJSONSyntax
	}
	start := p.i + 1
	for i := start; ; {
		rest := p.b[i:]
		q := bytes.IndexByte(rest, '"')
		if q < 0 {
			return nil, ErrJSONEnd
		}
		bs := bytes.IndexByte(rest[:q], '\\')
		if bs < 0 {
			p.i = i + q + 1
			return p.b[start : i+q], nil
		}
		i += bs + 1
		if i >= len(p.b) {
			return nil, ErrJSONEnd
		}
		switch p.b[i] {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			i++
		case 'u':
			p.i = i + 1
			if _, ok := p.hex4(); !ok {
				if i+5 > len(p.b) {
					return nil, ErrJSONEnd
				}
				return nil, ErrJSONString
			}
			i = p.i
		default:
			return nil, ErrJSONString
		}
	}
}

const maxDepth = 64

// skip passes over one JSON value of any kind, checking it.
func (p *parser) skip(depth int) error {
	if depth > maxDepth {
		return ErrJSONDepth
	}
	if p.i >= len(p.b) {
		return ErrJSONEnd
	}
	switch c := p.b[p.i]; {
	case c == '"':
		_, err := p.str()
		return err
	case c == '{' || c == '[':
		closeC := byte('}')
		if c == '[' {
			closeC = ']'
		}
		p.i++
		p.ws()
		if p.eat(closeC) {
			return nil
		}
		for {
			p.ws()
			if c == '{' {
				if _, err := p.str(); err != nil {
					return err
				}
				p.ws()
				if err := p.expect(':'); err != nil {
					return err
				}
				p.ws()
			}
			if err := p.skip(depth + 1); err != nil {
				return err
			}
			p.ws()
			if p.eat(',') {
				continue
			}
			return p.expect(closeC)
		}
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	case c == 't':
		return p.literal("true")
	case c == 'f':
		return p.literal("false")
	case c == 'n':
		return p.literal("null")
	}
	return ErrJSONSyntax
}

func (p *parser) literal(word string) error {
	rest := p.b[p.i:]
	if len(rest) < len(word) {
		if string(rest) == word[:len(rest)] {
			return ErrJSONEnd
		}
		return ErrJSONSyntax
	}
	if string(rest[:len(word)]) != word {
		return ErrJSONSyntax
	}
	p.i += len(word)
	return nil
}

// number passes over -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?.
func (p *parser) number() error {
	b, i := p.b, p.i
	digitsFrom := func(i int) int {
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		return i
	}
	if b[i] == '-' {
		i++
	}
	switch {
	case i >= len(b):
		return ErrJSONEnd
	case b[i] == '0':
		i++
	case b[i] >= '1' && b[i] <= '9':
		i = digitsFrom(i)
	default:
		return ErrJSONSyntax
	}
	if i < len(b) && b[i] == '.' {
		j := digitsFrom(i + 1)
		if j == i+1 {
			if j >= len(b) {
				return ErrJSONEnd
			}
			return ErrJSONSyntax
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := digitsFrom(i)
		if j == i {
			if j >= len(b) {
				return ErrJSONEnd
			}
			return ErrJSONSyntax
		}
		i = j
	}
	p.i = i
	return nil
}
