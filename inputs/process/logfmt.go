package process

import (
	"fmt"
	"unicode/utf8"
)

// LogfmtConfig parses key=value pairs (logfmt): values bare or in double
// quotes with backslash escapes; a key without = is the boolean true.
type LogfmtConfig struct {
	Common  `koanf:",squash"`
	OnError `koanf:",squash"`
	// Field is the field to parse; empty parses the body.
	Field string `koanf:"field"`
	// Target prefixes the fields' names (target.key).
	Target string `koanf:"target"`
	// Types converts values: int, float or bool (string is the default).
	Types map[string]string `koanf:"types"`
	// Remove deletes Field once it parsed.
	Remove bool `koanf:"remove"`
	// MaxFields bounds the pairs of one record; more fail to parse.
	MaxFields int `koanf:"max_fields"`
}

func (c *LogfmtConfig) typeName() string { return "logfmt" }

// Validate checks the keys.
func (c *LogfmtConfig) Validate() error {
	var errs errorList
	c.OnError.validate(&errs)
	validateTypes(c.Types, nil, &errs)
	if c.MaxFields < 0 {
		errs.add("max_fields", fmt.Sprintf("%d: want at least 1", c.MaxFields))
	}
	validateCommon(&c.Common, &errs)
	return errs.err()
}

type logfmtStep struct {
	p         parseStep
	prefix    []byte
	types     map[string]Kind
	maxFields int
}

func (c *LogfmtConfig) build(b *builder) step {
	s := &logfmtStep{p: b.parseStep(c.Field, c.Remove, c.OnError), maxFields: c.MaxFields}
	if s.maxFields == 0 {
		s.maxFields = 1000
	}
	if c.Remove && c.Field != "" {
		b.flow.remove(c.Field)
	}
	if c.Target != "" {
		s.prefix = []byte(c.Target + ".")
		b.produce(c.Target + ".*")
	} else {
		b.produce("*")
	}
	if len(c.Types) > 0 {
		s.types = map[string]Kind{}
		for k, v := range c.Types {
			s.types[k] = convKinds[v]
		}
	}
	return s
}

func (s *logfmtStep) run(rn *Runner, ls *localStats, r *Record) Reason {
	in, ok := s.p.input(r)
	if !ok {
		return s.p.failed(ls, r, "field missing", -1)
	}
	out, at, msg := parseLogfmt(r, in, rn.fields[:0], s.maxFields)
	rn.fields = out[:0]
	if msg != "" {
		return s.p.failed(ls, r, msg, at)
	}
	s.p.parsed(r)
	for _, f := range out {
		if s.types != nil {
			if k, ok := s.types[string(f.Key)]; ok {
				f.Kind, f.Value = convert(r, k, f.Value)
			}
		}
		if s.prefix != nil {
			m := r.mark()
			r.arena = append(append(r.arena, s.prefix...), f.Key...)
			f.Key = r.since(m)
		}
		r.set(f.Key, f.Kind, f.Value)
	}
	return ReasonNone
}

// parseLogfmt appends the pairs of b to out; on failure msg says why and at
// where.
func parseLogfmt(r *Record, b []byte, out []Field, maxFields int) (_ []Field, at int, msg string) {
	i := 0
	for {
		for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n') {
			i++
		}
		if i >= len(b) {
			return out, -1, ""
		}
		start := i
		for i < len(b) && b[i] > ' ' && b[i] != '=' && b[i] != '"' {
			i++
		}
		if i == start {
			return out, i, "syntax error: want a key"
		}
		if len(out) >= maxFields {
			return out, start, "too many fields"
		}
		key := b[start:i]
		if i >= len(b) || b[i] != '=' {
			if i < len(b) && b[i] == '"' {
				return out, i, "syntax error: quote in a key"
			}
			out = append(out, Field{Key: key, Value: valTrue, Kind: KindBool})
			continue
		}
		i++ // =
		if i < len(b) && b[i] == '"' {
			v, next, ok := logfmtQuoted(r, b, i)
			if !ok {
				return out, next, "syntax error: unterminated quoted value"
			}
			out = append(out, Field{Key: key, Value: v})
			i = next
			continue
		}
		vs := i
		for i < len(b) && b[i] > ' ' {
			if b[i] == '"' {
				return out, i, "syntax error: quote in a bare value"
			}
			i++
		}
		out = append(out, Field{Key: key, Value: b[vs:i]})
	}
}

// logfmtQuoted reads the quoted value at b[i] == '"'.
func logfmtQuoted(r *Record, b []byte, i int) ([]byte, int, bool) {
	i++
	start := i
	for i < len(b) && b[i] != '"' && b[i] != '\\' {
		i++
	}
	if i < len(b) && b[i] == '"' {
		return b[start:i], i + 1, true
	}
	m := r.mark()
	r.arena = append(r.arena, b[start:i]...)
	for i < len(b) {
		c := b[i]
		switch {
		case c == '"':
			return r.since(m), i + 1, true
		case c != '\\':
			r.arena = append(r.arena, c)
			i++
			continue
		}
		if i+1 >= len(b) {
			return nil, i, false
		}
		switch e := b[i+1]; e {
		case 'n':
			r.arena = append(r.arena, '\n')
		case 't':
			r.arena = append(r.arena, '\t')
		case 'r':
			r.arena = append(r.arena, '\r')
		case 'u':
			if i+6 <= len(b) {
				if v, ok := hexRune(b[i+2 : i+6]); ok {
					r.arena = utf8.AppendRune(r.arena, v)
					i += 6
					continue
				}
			}
			r.arena = append(r.arena, '\\', 'u')
		default:
			r.arena = append(r.arena, e) // \" \\ and anything else: the character
		}
		i += 2
	}
	return nil, i, false
}

func hexRune(h []byte) (rune, bool) {
	var v rune
	for _, c := range h {
		switch {
		case c >= '0' && c <= '9':
			v = v<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			v = v<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			v = v<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return v, true
}
