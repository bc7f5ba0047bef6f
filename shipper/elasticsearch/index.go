package elasticsearch

import (
	"fmt"
	"strings"
	"time"

	"github.com/capstan-agent/capstan/spool/batch"
)

// An index template is the name of a record's index (or data stream):
// text, the record's fields as ${name} (or ${name:-default} for records
// without it) and its date in UTC as %Y, %m, %d and %H (%% is a %). A
// field's value is lower-cased and any character an index name may not
// hold becomes '_', so that a field cannot make a name Elasticsearch
// refuses; the text must be a valid name already (checked at load).
type indexTemplate struct {
	parts []indexPart
	// unit is the template's finest date verb: a cached name holds for
	// every record of the same day (or hour); 0 without date verbs.
	unit  int64
	fixed bool // no field references: a name per unit of time
}

type indexPart struct {
	lit   string // text, when verb and ref are empty
	verb  byte   // Y, m, d, H
	ref   string // the field a value comes from
	def   string // the value of a record without the field
	hasDf bool
}

// maxIndexName is Elasticsearch's bound on an index name, in bytes.
const maxIndexName = 255

func parseIndex(s string) (indexTemplate, error) {
	var t indexTemplate
	if s == "" {
		return t, fmt.Errorf("missing: give an index or data stream name, e.g. %s", DefaultIndex)
	}
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			t.parts = append(t.parts, indexPart{lit: lit.String()})
			lit.Reset()
		}
	}
	t.fixed = true
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '%':
			if i+1 >= len(s) {
				return t, fmt.Errorf("%q: a %% at the end (write %%%% for a %%)", s)
			}
			v := s[i+1]
			i++
			switch v {
			case '%':
				lit.WriteByte('%')
			case 'Y', 'm', 'd', 'H':
				flush()
				t.parts = append(t.parts, indexPart{verb: v})
				u := int64(24 * time.Hour)
				if v == 'H' {
					u = int64(time.Hour)
				}
				if t.unit == 0 || u < t.unit {
					t.unit = u
				}
			default:
				return t, fmt.Errorf("%q: %%%c at byte %d is not a date verb (%%Y, %%m, %%d, %%H)", s, v, i-1)
			}
		case c == '$' && i+1 < len(s) && s[i+1] == '{':
			end := strings.IndexByte(s[i:], '}')
			if end < 0 {
				return t, fmt.Errorf("%q: unterminated ${ at byte %d", s, i)
			}
			name := s[i+2 : i+end]
			p := indexPart{ref: name}
			if n, d, ok := strings.Cut(name, ":-"); ok {
				p.ref, p.def, p.hasDf = n, d, true
			}
			if p.ref == "" || strings.ContainsAny(p.ref, "${}% ") {
				return t, fmt.Errorf("%q: ${%s} at byte %d names no field", s, name, i)
			}
			if p.hasDf {
				if err := checkIndexText(p.def); err != nil {
					return t, fmt.Errorf("%q: the default of ${%s}: %v", s, p.ref, err)
				}
			}
			flush()
			t.parts = append(t.parts, p)
			t.fixed = false
			i += end
		case c == '$' && i+1 < len(s) && s[i+1] == '$':
			lit.WriteByte('$')
			i++
		default:
			lit.WriteByte(c)
		}
	}
	flush()
	var sample []byte
	for _, p := range t.parts {
		switch {
		case p.verb != 0:
			sample = append(sample, "2026"[:verbWidth(p.verb)]...)
		case p.ref != "":
			sample = append(sample, 'x')
		default:
			if err := checkIndexText(p.lit); err != nil {
				return t, fmt.Errorf("%q: %v", s, err)
			}
			sample = append(sample, p.lit...)
		}
	}
	if err := checkIndexName(string(sample)); err != nil {
		return t, fmt.Errorf("%q: %v", s, err)
	}
	return t, nil
}

func verbWidth(v byte) int {
	if v == 'Y' {
		return 4
	}
	return 2
}

// badIndexByte is what Elasticsearch refuses in an index name (upper case
// apart): \ / * ? " < > | space , # : and control characters.
func badIndexByte(c byte) bool {
	return c < 0x20 || c == 0x7f || strings.IndexByte(`\/*?"<>| ,#:`, c) >= 0
}

func checkIndexText(s string) error {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			return fmt.Errorf("%q at byte %d: index names are lower case", s[i:i+1], i)
		}
		if badIndexByte(c) {
			return fmt.Errorf("%q at byte %d may not be in an index name", s[i:i+1], i)
		}
	}
	return nil
}

func checkIndexName(s string) error {
	switch {
	case s == "." || s == "..":
		return fmt.Errorf("an index may not be named %s", s)
	case s[0] == '-' || s[0] == '_' || s[0] == '+':
		return fmt.Errorf("an index name may not start with %c", s[0])
	case len(s) > maxIndexName:
		return fmt.Errorf("an index name is at most %d bytes", maxIndexName)
	}
	return nil
}

// refs are the fields the template reads.
func (t *indexTemplate) refs() []string {
	var out []string
	for _, p := range t.parts {
		if p.ref != "" {
			out = append(out, p.ref)
		}
	}
	return out
}

// errNoField is a record without a field its index needs.
type errNoField struct{ field string }

func (e errNoField) Error() string {
	return fmt.Sprintf("the record has no field %q for its index (give a default: ${%s:-name})", e.field, e.field)
}

// expand appends the index of a record of time ts (unix nanoseconds) with
// own and source attributes.
func (t *indexTemplate) expand(dst []byte, ts int64, own, src batch.AttrIter) ([]byte, error) {
	var y, mo, d, h int
	if t.unit != 0 {
		tm := time.Unix(0, ts).UTC()
		var m time.Month
		y, m, d = tm.Date()
		mo, h = int(m), tm.Hour()
	}
	start := len(dst)
	for _, p := range t.parts {
		switch {
		case p.verb == 'Y':
			dst = appendDigits(dst, y, 4)
		case p.verb == 'm':
			dst = appendDigits(dst, mo, 2)
		case p.verb == 'd':
			dst = appendDigits(dst, d, 2)
		case p.verb == 'H':
			dst = appendDigits(dst, h, 2)
		case p.ref != "":
			v, ok := lookupField(p.ref, own, src)
			if !ok {
				if !p.hasDf {
					return dst[:start], errNoField{p.ref}
				}
				dst = append(dst, p.def...)
				continue
			}
			dst = appendIndexValue(dst, v)
		default:
			dst = append(dst, p.lit...)
		}
	}
	if len(dst)-start > maxIndexName {
		dst = dst[:start+maxIndexName]
	}
	return dst, nil
}

func appendDigits(dst []byte, v, width int) []byte {
	if v < 0 {
		v = 0
	}
	var b [4]byte
	for i := width - 1; i >= 0; i-- {
		b[i] = byte('0' + v%10)
		v /= 10
	}
	return append(dst, b[:width]...)
}

// appendIndexValue appends a field's value as part of an index name.
func appendIndexValue(dst, v []byte) []byte {
	for _, c := range v {
		switch {
		case c >= 'A' && c <= 'Z':
			c += 'a' - 'A'
		case badIndexByte(c):
			c = '_'
		}
		dst = append(dst, c)
	}
	return dst
}

// lookupField is the value of field name: the record's own attribute, or
// its source's (the file input's path also as log.file.path).
func lookupField(name string, own, src batch.AttrIter) ([]byte, bool) {
	for a, ok := own.NextAttr(); ok; a, ok = own.NextAttr() {
		if string(a.Key) == name {
			return a.Value, true
		}
	}
	for a, ok := src.NextAttr(); ok; a, ok = src.NextAttr() {
		if string(sourceName(a.Key)) == name {
			return a.Value, true
		}
	}
	return nil, false
}
