package httpout

import (
	"fmt"
	"strings"

	"github.com/capstan-agent/capstan/spool/batch"
)

// A template is text with references to a record's fields: ${name} is the
// record's attribute name or, when it has none, its source's (empty when
// neither has it); $$ is a $. It is the syntax of the processors' set
// template (docs/processors.md): in the configuration file a name without a
// dot is written $${name}, since ${NAME} is the environment's.
type template struct {
	parts []tmplPart
}

type tmplPart struct {
	lit string // text, when ref is ""
	ref string // the field a value comes from
}

// parseTemplate parses s.
func parseTemplate(s string) (template, error) {
	var t template
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			t.parts = append(t.parts, tmplPart{lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '$' || i+1 >= len(s) {
			lit.WriteByte(c)
			continue
		}
		switch s[i+1] {
		case '$':
			lit.WriteByte('$')
			i++
		case '{':
			end := strings.IndexByte(s[i:], '}')
			if end < 0 {
				return template{}, fmt.Errorf("unterminated ${ at byte %d", i)
			}
			name := s[i+2 : i+end]
			if name == "" || strings.ContainsAny(name, "${") {
				return template{}, fmt.Errorf("${%s} at byte %d: not a field name", name, i)
			}
			flush()
			t.parts = append(t.parts, tmplPart{ref: name})
			i += end
		default:
			lit.WriteByte(c)
		}
	}
	flush()
	return t, nil
}

// refs are the fields the template reads.
func (t template) refs() []string {
	var out []string
	for _, p := range t.parts {
		if p.ref != "" {
			out = append(out, p.ref)
		}
	}
	return out
}

// static reports whether the template reads no field.
func (t template) static() bool { return len(t.refs()) == 0 }

// expand appends the template with values[k] for its k-th reference,
// each passed through esc.
func (t template) expand(dst []byte, values [][]byte, esc func(dst, v []byte) []byte) []byte {
	k := 0
	for _, p := range t.parts {
		if p.ref == "" {
			dst = append(dst, p.lit...)
			continue
		}
		dst = esc(dst, values[k])
		k++
	}
	return dst
}

// lookup returns the value of field name: the record's own attribute, or
// its source's.
func lookup(name string, own, src batch.AttrIter) []byte {
	for a, ok := own.NextAttr(); ok; a, ok = own.NextAttr() {
		if string(a.Key) == name {
			return a.Value
		}
	}
	for a, ok := src.NextAttr(); ok; a, ok = src.NextAttr() {
		if string(a.Key) == name {
			return a.Value
		}
	}
	return nil
}
