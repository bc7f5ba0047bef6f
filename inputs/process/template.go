package process

import (
	"errors"
	"strings"
)

// template is a value with ${name} references, parsed once.
type template struct {
	parts []tmplPart
}

type tmplPart struct {
	lit []byte // literal text, or
	ref string // a name
}

// parseTemplate parses ${name} references; $$ is a literal $, and a $ not
// followed by { or $ is literal too.
func parseTemplate(s string) (template, error) {
	var t template
	var lit []byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '$' || i+1 >= len(s) || (s[i+1] != '{' && s[i+1] != '$') {
			lit = append(lit, c)
			continue
		}
		if s[i+1] == '$' {
			lit = append(lit, '$')
			i++
			continue
		}
		end := strings.IndexByte(s[i+2:], '}')
		if end < 0 {
			return t, errors.New("unclosed ${ (write $$ for a literal $)")
		}
		name := s[i+2 : i+2+end]
		if strings.TrimSpace(name) == "" {
			return t, errors.New("empty ${}")
		}
		if len(lit) > 0 {
			t.parts = append(t.parts, tmplPart{lit: lit})
			lit = nil
		}
		t.parts = append(t.parts, tmplPart{ref: strings.TrimSpace(name)})
		i += 2 + end
	}
	if len(lit) > 0 {
		t.parts = append(t.parts, tmplPart{lit: lit})
	}
	return t, nil
}

// expand writes the template's text for r into r's arena.
func (t *template) expand(r *Record) []byte {
	m := r.mark()
	for _, p := range t.parts {
		if p.ref == "" {
			r.arena = append(r.arena, p.lit...)
			continue
		}
		if f, ok := r.Get(p.ref); ok {
			r.arena = append(r.arena, f.Value...)
		} else if f, ok := r.sourceValue(p.ref); ok {
			r.arena = append(r.arena, f.Value...)
		}
	}
	return r.since(m)
}
