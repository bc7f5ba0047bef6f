package elasticsearch

import (
	"errors"
	"fmt"
)

// filterPath keeps a bulk answer to what the output reads: a few bytes an
// item ({"create":{"status":201}}) instead of a few hundred.
const filterPath = "errors,items.*.status,items.*.error.type,items.*.error.reason"

// bulkItem is one item of a bulk answer: its status and, for a failure,
// Elasticsearch's error type and reason (slices of the answer).
type bulkItem struct {
	status     int
	typ, cause []byte
}

// The answer to n creates that all succeeded, as a node writes it under
// filterPath: allCreatedHead, then n allCreatedItem separated by commas,
// then allCreatedTail.
const (
	allCreatedHead = `{"errors":false,"items":[`
	allCreatedItem = `{"create":{"status":201}}`
	allCreatedTail = `]}`
)

// allCreated reports whether b is, byte for byte, the answer to n creates
// that all succeeded: the common answer, told in a few comparisons where
// readBulk reads every item (a tenth of the output's CPU at a few
// thousand items a request). Any other answer — spaces, other keys, an
// item's own status — is for readBulk.
func allCreated(b []byte, n int) bool {
	if n < 1 || len(b) != len(allCreatedHead)+n*(len(allCreatedItem)+1)-1+len(allCreatedTail) ||
		string(b[:len(allCreatedHead)]) != allCreatedHead || string(b[len(b)-len(allCreatedTail):]) != allCreatedTail {
		return false
	}
	items := b[len(allCreatedHead) : len(b)-len(allCreatedTail)]
	for i := 0; i < n; i++ {
		at := i * (len(allCreatedItem) + 1)
		if string(items[at:at+len(allCreatedItem)]) != allCreatedItem || i < n-1 && items[at+len(allCreatedItem)] != ',' {
			return false
		}
	}
	return true
}

// errAnswer is a bulk answer the reader cannot read.
var errAnswer = errors.New("bulk answer is not the JSON Elasticsearch writes")

// readBulk reads a bulk answer — {"took":…,"errors":bool,"items":[{"create":
// {"status":…,"error":{"type":…,"reason":…},…}},…]}, with or without
// filter_path, in any key order — into items (reused) without allocating
// beyond growing items. Keys it does not need are skipped.
func readBulk(b []byte, items []bulkItem) (errs bool, out []bulkItem, err error) {
	s := scanner{b: b}
	out = items[:0]
	if !s.open('{') {
		return false, out, s.fail("an object")
	}
	for first := true; ; first = false {
		key, more := s.member(first, '}')
		if !more {
			break
		}
		switch string(key) {
		case "errors":
			switch {
			case s.literal("true"):
				errs = true
			case s.literal("false"):
			default:
				return false, out, s.fail("errors: true or false")
			}
		case "items":
			if out, err = s.items(out); err != nil {
				return false, out, err
			}
		default:
			if !s.skip() {
				return false, out, s.fail("a value")
			}
		}
	}
	if s.bad {
		return false, out, s.fail("a member or }")
	}
	if s.ws(); s.i != len(s.b) {
		return false, out, s.fail("the end of the answer")
	}
	return errs, out, nil
}

func (s *scanner) items(out []bulkItem) ([]bulkItem, error) {
	if !s.open('[') {
		return out, s.fail("items: an array")
	}
	for first := true; ; first = false {
		s.ws()
		if s.i < len(s.b) && s.b[s.i] == ']' {
			s.i++
			return out, nil
		}
		if !first && !s.open(',') {
			return out, s.fail("items: , or ]")
		}
		// {"create":{…}}: one action, its result inside.
		if !s.open('{') {
			return out, s.fail("an item object")
		}
		if _, more := s.member(true, '}'); !more {
			return out, s.fail("an item's action")
		}
		it, err := s.result()
		if err != nil {
			return out, err
		}
		out = append(out, it)
		if !s.open('}') {
			return out, s.fail("the end of an item")
		}
	}
}

func (s *scanner) result() (bulkItem, error) {
	var it bulkItem
	if !s.open('{') {
		return it, s.fail("an item's result object")
	}
	for first := true; ; first = false {
		key, more := s.member(first, '}')
		if !more {
			break
		}
		switch string(key) {
		case "status":
			n, ok := s.int()
			if !ok {
				return it, s.fail("status: a number")
			}
			it.status = n
		case "error":
			if err := s.itemError(&it); err != nil {
				return it, err
			}
		default:
			if !s.skip() {
				return it, s.fail("a value")
			}
		}
	}
	if s.bad {
		return it, s.fail("a member or }")
	}
	if it.status == 0 {
		return it, s.fail("an item's status")
	}
	return it, nil
}

func (s *scanner) itemError(it *bulkItem) error {
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == '"' { // an old node's error: a string
		v, ok := s.str()
		if !ok {
			return s.fail("error: a string")
		}
		it.cause = v
		return nil
	}
	if !s.open('{') {
		return s.fail("error: an object")
	}
	for first := true; ; first = false {
		key, more := s.member(first, '}')
		if !more {
			break
		}
		var ok bool
		switch string(key) {
		case "type":
			it.typ, ok = s.str()
		case "reason":
			it.cause, ok = s.str()
		default:
			ok = s.skip()
		}
		if !ok {
			return s.fail("an error's member")
		}
	}
	if s.bad {
		return s.fail("a member or }")
	}
	return nil
}

// scanner reads JSON without building values. It checks the structure it
// walks (brackets, strings, separators) enough that a cut or garbled
// answer is an error, not a wrong reading.
type scanner struct {
	b   []byte
	i   int
	bad bool // a member list ended badly
}

func (s *scanner) fail(want string) error {
	return fmt.Errorf("%w: want %s at byte %d of %d", errAnswer, want, s.i, len(s.b))
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *scanner) open(c byte) bool {
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// member reads the next "key": of an object, or its closing brace
// (more false). After the first, a comma comes first. A malformed list
// sets bad.
func (s *scanner) member(first bool, closing byte) (key []byte, more bool) {
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == closing {
		s.i++
		return nil, false
	}
	if !first && !s.open(',') {
		s.bad = true
		return nil, false
	}
	s.ws()
	k, ok := s.str()
	if !ok || !s.open(':') {
		s.bad = true
		return nil, false
	}
	return k, true
}

func (s *scanner) literal(w string) bool {
	s.ws()
	if len(s.b)-s.i >= len(w) && string(s.b[s.i:s.i+len(w)]) == w {
		s.i += len(w)
		return true
	}
	return false
}

// str reads a string and returns its content as written (escapes kept).
func (s *scanner) str() ([]byte, bool) {
	s.ws()
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return nil, false
	}
	start := s.i + 1
	for i := start; i < len(s.b); i++ {
		switch c := s.b[i]; {
		case c == '\\':
			if i+1 >= len(s.b) {
				return nil, false
			}
			i++
			switch s.b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if i+4 >= len(s.b) || !isHex(s.b[i+1]) || !isHex(s.b[i+2]) || !isHex(s.b[i+3]) || !isHex(s.b[i+4]) {
					return nil, false
				}
				i += 4
			default:
				return nil, false
			}
		case c == '"':
			s.i = i + 1
			return s.b[start:i], true
		case c < 0x20:
			return nil, false
		}
	}
	return nil, false
}

func (s *scanner) int() (int, bool) {
	s.ws()
	n, digits := 0, 0
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' && digits < 9 {
		n = n*10 + int(s.b[s.i]-'0')
		s.i++
		digits++
	}
	if digits == 0 || digits > 1 && s.b[s.i-digits] == '0' || s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		return 0, false
	}
	return n, true
}

// maxDepth bounds the nesting skip follows (Elasticsearch's errors nest
// caused_by a few levels).
const maxDepth = 128

// skip goes past one value, checking it is JSON.
func (s *scanner) skip() bool { return s.value(0) }

func (s *scanner) value(depth int) bool {
	if depth > maxDepth {
		return false
	}
	s.ws()
	if s.i >= len(s.b) {
		return false
	}
	switch c := s.b[s.i]; {
	case c == '"':
		_, ok := s.str()
		return ok
	case c == '{':
		s.i++
		for first := true; ; first = false {
			if _, more := s.member(first, '}'); !more {
				return !s.bad
			}
			if !s.value(depth + 1) {
				return false
			}
		}
	case c == '[':
		s.i++
		for first := true; ; first = false {
			s.ws()
			if s.i < len(s.b) && s.b[s.i] == ']' {
				s.i++
				return true
			}
			if !first && !s.open(',') {
				return false
			}
			if !s.value(depth + 1) {
				return false
			}
		}
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	}
	return s.number()
}

// number reads -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?.
func (s *scanner) number() bool {
	b, i := s.b, s.i
	digits := func() int {
		n := 0
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
			n++
		}
		return n
	}
	if i < len(b) && b[i] == '-' {
		i++
	}
	if i < len(b) && b[i] == '0' {
		i++
	} else if digits() == 0 {
		return false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	s.i = i
	return true
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }
