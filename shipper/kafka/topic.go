package kafka

import (
	"fmt"
	"strings"
)

// maxTopicLen is the longest topic name Kafka takes.
const maxTopicLen = 249

// A topicTemplate is a topic name with references to a record's fields:
// ${name} is the record's attribute name or, when it has none, its
// source's. The literal parts are what a topic may hold (letters, digits,
// '.', '_', '-'); a field's value has every other byte replaced by '_'.
// In the configuration file ${name} without a dot is written $${name}, since
// ${NAME} is the environment's.
type topicTemplate struct {
	parts []topicPart
}

type topicPart struct {
	lit string // text, when ref is ""
	ref string // the field a value comes from
}

// parseTopic parses s; a template without references is a fixed topic.
func parseTopic(s string) (topicTemplate, error) {
	var t topicTemplate
	lit := 0 // start of the literal being read
	flush := func(end int) error {
		if end > lit {
			l := s[lit:end]
			if i := strings.IndexFunc(l, func(r rune) bool { return !topicByte(r) }); i >= 0 {
				return fmt.Errorf("%q at byte %d cannot be in a topic name (letters, digits, '.', '_', '-')", l[i:i+1], lit+i)
			}
			t.parts = append(t.parts, topicPart{lit: l})
		}
		return nil
	}
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 >= len(s) || s[i+1] != '{' {
			continue
		}
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			return topicTemplate{}, fmt.Errorf("unterminated ${ at byte %d", i)
		}
		name := s[i+2 : i+end]
		if name == "" || strings.ContainsAny(name, "${ ") {
			return topicTemplate{}, fmt.Errorf("${%s} at byte %d names no field", name, i)
		}
		if err := flush(i); err != nil {
			return topicTemplate{}, err
		}
		t.parts = append(t.parts, topicPart{ref: name})
		i += end
		lit = i + 1
	}
	if err := flush(len(s)); err != nil {
		return topicTemplate{}, err
	}
	if t.static() {
		switch {
		case s == "." || s == "..":
			return topicTemplate{}, fmt.Errorf("%q is not a topic name", s)
		case len(s) > maxTopicLen:
			return topicTemplate{}, fmt.Errorf("longer than Kafka's %d bytes", maxTopicLen)
		}
	}
	return t, nil
}

func topicByte(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-'
}

// static reports whether the template reads no field.
func (t topicTemplate) static() bool {
	for _, p := range t.parts {
		if p.ref != "" {
			return false
		}
	}
	return true
}

// String is the fixed topic of a static template.
func (t topicTemplate) String() string {
	var b strings.Builder
	for _, p := range t.parts {
		if p.ref != "" {
			b.WriteString("${" + p.ref + "}")
		} else {
			b.WriteString(p.lit)
		}
	}
	return b.String()
}

// expand appends the topic of a record to dst, its fields' values from get;
// missing names a field the record does not have.
func (t topicTemplate) expand(dst []byte, get func(name string) ([]byte, bool)) (out []byte, missing string) {
	for _, p := range t.parts {
		if p.ref == "" {
			dst = append(dst, p.lit...)
			continue
		}
		v, ok := get(p.ref)
		if !ok {
			return dst, p.ref
		}
		for _, c := range v {
			if !topicByte(rune(c)) {
				c = '_'
			}
			dst = append(dst, c)
		}
	}
	return dst, ""
}
