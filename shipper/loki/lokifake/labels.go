package lokifake

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// LabelPair is a stream label or a structured metadata pair.
type LabelPair struct {
	Name, Value string
}

// labelError is a label-set syntax error at a 1-based column, rendered as
// PromQL's parser renders it: "1:4: parse error: unterminated quoted string".
type labelError struct {
	col int
	msg string
}

func (e *labelError) Error() string { return fmt.Sprintf("1:%d: parse error: %s", e.col, e.msg) }

// parseLabels parses a stream selector such as {app="x", ns="y"} the way
// Loki's syntax.ParseLabels does (PromQL's metric grammar): optional
// whitespace, names [a-zA-Z_][a-zA-Z0-9_]*, '=' only, values quoted with ",
// ' or `, Go escapes, a trailing comma allowed, a metric name before the
// braces taken as __name__. The result is sorted by name; labels with an
// empty value are dropped, as Loki drops them; duplicates are kept (the
// validator refuses them).
func parseLabels(s string) ([]LabelPair, error) {
	p := labelParser{s: s}
	var out []LabelPair
	p.space()
	if p.pos < len(s) && isNameStart(s[p.pos]) {
		name := p.name()
		out = append(out, LabelPair{"__name__", name})
		p.space()
		if p.pos == len(s) {
			return finish(out), nil
		}
	}
	if p.pos >= len(s) {
		return nil, p.errf("unexpected end of input")
	}
	if s[p.pos] != '{' {
		return nil, p.unexpected("", `"{"`)
	}
	p.pos++
	for {
		p.space()
		if p.pos >= len(s) {
			return nil, p.errf(`unexpected end of input inside braces`)
		}
		if s[p.pos] == '}' {
			p.pos++
			break
		}
		if !isNameStart(s[p.pos]) {
			return nil, p.badChar()
		}
		name := p.name()
		p.space()
		if p.pos >= len(s) {
			return nil, p.errf(`unexpected end of input inside braces`)
		}
		if s[p.pos] != '=' {
			return nil, p.unexpected(" in label set", `"="`)
		}
		p.pos++
		if p.pos < len(s) && (s[p.pos] == '~' || s[p.pos] == '=') {
			return nil, p.errf(`unexpected "=%c" in label set, expected "="`, s[p.pos])
		}
		p.space()
		if p.pos >= len(s) {
			return nil, p.errf(`unexpected end of input inside braces`)
		}
		val, err := p.str()
		if err != nil {
			return nil, err
		}
		out = append(out, LabelPair{name, val})
		p.space()
		if p.pos >= len(s) {
			return nil, p.errf(`unexpected end of input inside braces`)
		}
		switch s[p.pos] {
		case ',':
			p.pos++
		case '}':
		default:
			return nil, p.unexpected(" in label set", `"," or "}"`)
		}
	}
	p.space()
	if p.pos != len(s) {
		return nil, p.unexpected("", "end of input")
	}
	return finish(out), nil
}

func finish(ls []LabelPair) []LabelPair {
	ls = slices.DeleteFunc(ls, func(l LabelPair) bool { return l.Value == "" })
	slices.SortStableFunc(ls, func(a, b LabelPair) int { return strings.Compare(a.Name, b.Name) })
	return ls
}

type labelParser struct {
	s   string
	pos int
}

func (p *labelParser) errf(format string, args ...any) error {
	return &labelError{col: p.pos + 1, msg: fmt.Sprintf(format, args...)}
}

func (p *labelParser) space() {
	for p.pos < len(p.s) && (p.s[p.pos] == ' ' || p.s[p.pos] == '\t' || p.s[p.pos] == '\n' || p.s[p.pos] == '\r') {
		p.pos++
	}
}

// unexpected reports the token at pos as PromQL's parser does.
func (p *labelParser) unexpected(context, expected string) error {
	c := p.s[p.pos]
	var tok string
	switch {
	case isNameStart(c):
		save := p.pos
		tok = fmt.Sprintf("identifier %q", p.name())
		p.pos = save
	case c == '"' || c == '\'' || c == '`':
		tok = "string"
	case c >= '0' && c <= '9':
		tok = "number"
	default:
		r, _ := utf8.DecodeRuneInString(p.s[p.pos:])
		tok = strconv.Quote(string(r))
	}
	return p.errf("unexpected %s%s, expected %s", tok, context, expected)
}

func (p *labelParser) badChar() error {
	c := p.s[p.pos]
	if c == '"' || c == '\'' || c == '`' {
		return p.errf(`unexpected string in label set, expected identifier or "}"`)
	}
	r, _ := utf8.DecodeRuneInString(p.s[p.pos:])
	return p.errf("unexpected character inside braces: %q", r)
}

func isNameStart(c byte) bool { return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func isNameByte(c byte) bool { return isNameStart(c) || c >= '0' && c <= '9' }

func (p *labelParser) name() string {
	start := p.pos
	for p.pos < len(p.s) && isNameByte(p.s[p.pos]) {
		p.pos++
	}
	return p.s[start:p.pos]
}

// str reads a quoted string: "…" and '…' with Go escapes, `…` raw.
func (p *labelParser) str() (string, error) {
	q := p.s[p.pos]
	if q != '"' && q != '\'' && q != '`' {
		return "", p.unexpected(" in label set", "string")
	}
	start := p.pos
	p.pos++
	for p.pos < len(p.s) {
		c := p.s[p.pos]
		switch {
		case c == q:
			p.pos++
			raw := p.s[start:p.pos]
			if !utf8.ValidString(raw) {
				return "", &labelError{col: start + 1, msg: "invalid UTF-8 in quoted string"}
			}
			if q == '`' {
				return raw[1 : len(raw)-1], nil
			}
			body := raw[1 : len(raw)-1]
			if q == '\'' {
				// Go has no multi-character '…' literals: requote.
				body = strings.ReplaceAll(strings.ReplaceAll(body, `\'`, `'`), `"`, `\"`)
			}
			v, err := strconv.Unquote(`"` + body + `"`)
			if err != nil {
				return "", &labelError{col: start + 1, msg: "invalid syntax in quoted string"}
			}
			if !utf8.ValidString(v) { // an escape such as \xff
				return "", &labelError{col: start + 1, msg: "invalid UTF-8 in quoted string"}
			}
			return v, nil
		case c == '\\' && q != '`':
			p.pos += 2
		case c == '\n' && q != '`':
			return "", &labelError{col: start + 1, msg: "unterminated quoted string"}
		default:
			p.pos++
		}
	}
	return "", &labelError{col: start + 1, msg: "unterminated quoted string"}
}

// formatLabels renders sorted labels as Prometheus' labels.String does:
// {a="x", b="y"}.
func formatLabels(ls []LabelPair) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, l := range ls {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(l.Name)
		b.WriteByte('=')
		b.WriteString(strconv.Quote(l.Value))
	}
	b.WriteByte('}')
	return b.String()
}

// Canonical returns the canonical form of a stream selector, the key the
// fake stores a stream under ({a="x", b="y"}, sorted, empty values dropped),
// or the parse error Loki would give.
func Canonical(labels string) (string, error) {
	ls, err := parseLabels(labels)
	if err != nil {
		return "", err
	}
	return formatLabels(ls), nil
}
