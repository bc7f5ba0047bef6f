package process

import (
	"fmt"
	"strings"
)

// SetConfig sets a field, or the body, from a template or an expression.
type SetConfig struct {
	Common `koanf:",squash"`
	// Field is the field to set; Body sets the body instead.
	Field string `koanf:"field"`
	Body  bool   `koanf:"body"`
	// Value is a template: ${name} is the field name, or else the source
	// attribute name (empty if neither is there); $$ is a $.
	Value string `koanf:"value"`
	// Expression computes the value; its result keeps its type.
	Expression string `koanf:"expression"`
}

func (c *SetConfig) typeName() string { return "set" }

// Validate checks the keys.
func (c *SetConfig) Validate() error {
	var errs errorList
	switch {
	case c.Field == "" && !c.Body:
		errs.add("field", "needed (or body: true)")
	case c.Field != "" && c.Body:
		errs.add("body", "set either field or body: true")
	}
	switch {
	case c.Value == "" && c.Expression == "":
		errs.add("value", "needed (or expression)")
	case c.Value != "" && c.Expression != "":
		errs.add("expression", "set either value or expression")
	case c.Value != "":
		if _, err := parseTemplate(c.Value); err != nil {
			errs.add("value", err.Error())
		}
	default:
		validateExpr("expression", c.Expression, false, &errs)
	}
	validateCommon(&c.Common, &errs)
	return errs.err()
}

type setStep struct {
	field []byte // nil = the body
	tmpl  template
	prog  *program
}

func (c *SetConfig) build(b *builder) step {
	s := &setStep{}
	if c.Value != "" {
		s.tmpl, _ = parseTemplate(c.Value)
	} else {
		s.prog = b.expr("expression", c.Expression, false)
	}
	if !c.Body {
		s.field = []byte(c.Field)
		b.produce(c.Field)
	}
	return s
}

func (s *setStep) run(rn *Runner, ls *localStats, r *Record) Reason {
	kind, v := KindString, []byte(nil)
	if s.prog == nil {
		v = s.tmpl.expand(r)
	} else {
		out, err := rn.env.eval(s.prog, r)
		if err != nil {
			ls.evalErrors++
			return ReasonNone
		}
		kind, v = appendResult(r, out)
	}
	if s.field == nil {
		r.Body = v
	} else {
		r.set(s.field, kind, v)
	}
	return ReasonNone
}

// RenameConfig renames a field; a field already called To is replaced.
type RenameConfig struct {
	Common `koanf:",squash"`
	From   string `koanf:"from"`
	To     string `koanf:"to"`
}

func (c *RenameConfig) typeName() string { return "rename" }

// Validate checks the keys.
func (c *RenameConfig) Validate() error { return validateFromTo(&c.Common, c.From, c.To) }

func validateFromTo(com *Common, from, to string) error {
	var errs errorList
	if from == "" {
		errs.add("from", "needed")
	}
	if to == "" {
		errs.add("to", "needed")
	}
	if from != "" && from == to {
		errs.add("to", "is the same as from")
	}
	validateCommon(com, &errs)
	return errs.err()
}

type renameStep struct{ from, to []byte }

func (c *RenameConfig) build(b *builder) step {
	b.consume("from", c.From)
	b.flow.remove(c.From)
	b.produce(c.To)
	return &renameStep{from: []byte(c.From), to: []byte(c.To)}
}

func (s *renameStep) run(rn *Runner, ls *localStats, r *Record) Reason {
	i := r.indexBytes(s.from)
	if i < 0 {
		return ReasonNone
	}
	if j := r.indexBytes(s.to); j >= 0 {
		r.remove(j)
		if j < i {
			i--
		}
	}
	r.Fields[i].Key = s.to
	return ReasonNone
}

// CopyConfig copies a field; a field already called To is replaced.
type CopyConfig struct {
	Common `koanf:",squash"`
	From   string `koanf:"from"`
	To     string `koanf:"to"`
}

func (c *CopyConfig) typeName() string { return "copy" }

// Validate checks the keys.
func (c *CopyConfig) Validate() error { return validateFromTo(&c.Common, c.From, c.To) }

type copyStep struct{ from, to []byte }

func (c *CopyConfig) build(b *builder) step {
	b.consume("from", c.From)
	b.produce(c.To)
	return &copyStep{from: []byte(c.From), to: []byte(c.To)}
}

func (s *copyStep) run(rn *Runner, ls *localStats, r *Record) Reason {
	if i := r.indexBytes(s.from); i >= 0 {
		f := r.Fields[i]
		r.set(s.to, f.Kind, f.Value)
	}
	return ReasonNone
}

// DeleteConfig deletes fields; a name ending in * deletes every field with
// that prefix.
type DeleteConfig struct {
	Common `koanf:",squash"`
	Fields []string `koanf:"fields"`
}

func (c *DeleteConfig) typeName() string { return "delete" }

// Validate checks the keys.
func (c *DeleteConfig) Validate() error {
	var errs errorList
	if len(c.Fields) == 0 {
		errs.add("fields", "needed: the fields to delete")
	}
	validatePatterns(c.Fields, &errs)
	validateCommon(&c.Common, &errs)
	return errs.err()
}

func validatePatterns(ps []string, errs *errorList) {
	for i, p := range ps {
		if p == "" || strings.Contains(strings.TrimSuffix(p, "*"), "*") {
			errs.add(fmt.Sprintf("fields[%d]", i), fmt.Sprintf("%q: want a name, or a prefix ending in *", p))
		}
	}
}

// pattern is a field name, or a prefix when wild.
type pattern struct {
	name string
	wild bool
}

func compilePatterns(ps []string) []pattern {
	out := make([]pattern, len(ps))
	for i, p := range ps {
		name, wild := strings.CutSuffix(p, "*")
		out[i] = pattern{name: name, wild: wild}
	}
	return out
}

func matchAny(ps []pattern, key []byte) bool {
	for _, p := range ps {
		if p.wild {
			if len(key) >= len(p.name) && string(key[:len(p.name)]) == p.name {
				return true
			}
		} else if string(key) == p.name {
			return true
		}
	}
	return false
}

type deleteStep struct{ ps []pattern }

func (c *DeleteConfig) build(b *builder) step {
	for _, p := range c.Fields {
		b.flow.remove(p)
	}
	return &deleteStep{ps: compilePatterns(c.Fields)}
}

func (s *deleteStep) run(rn *Runner, ls *localStats, r *Record) Reason {
	filterFields(r, func(k []byte) bool { return !matchAny(s.ps, k) })
	return ReasonNone
}

// filterFields keeps the fields whose key keep accepts, in order; it moves
// nothing until the first field that goes.
func filterFields(r *Record, keep func([]byte) bool) {
	first := -1
	for i := range r.Fields {
		if !keep(r.Fields[i].Key) {
			first = i
			break
		}
	}
	if first < 0 {
		return
	}
	out := r.Fields[:first]
	for _, f := range r.Fields[first+1:] {
		if keep(f.Key) {
			out = append(out, f)
		}
	}
	clear(r.Fields[len(out):])
	r.Fields = out
}

// KeepConfig deletes every field but the listed ones (a name ending in *
// keeps every field with that prefix) and the capstan.* fields that say
// what went wrong.
type KeepConfig struct {
	Common `koanf:",squash"`
	Fields []string `koanf:"fields"`
}

func (c *KeepConfig) typeName() string { return "keep" }

// Validate checks the keys.
func (c *KeepConfig) Validate() error {
	var errs errorList
	if len(c.Fields) == 0 {
		errs.add("fields", "needed: a keep without fields would delete every field")
	}
	validatePatterns(c.Fields, &errs)
	validateCommon(&c.Common, &errs)
	return errs.err()
}

type keepStep struct{ ps []pattern }

func (c *KeepConfig) build(b *builder) step {
	if !b.flow.keepOnly(c.Fields) {
		b.fail("fields", "keeps nothing: none of "+strings.Join(c.Fields, ", ")+" can be set here")
	}
	return &keepStep{ps: compilePatterns(c.Fields)}
}

func (s *keepStep) run(rn *Runner, ls *localStats, r *Record) Reason {
	filterFields(r, func(k []byte) bool { return matchAny(s.ps, k) || isCapstanKey(k) })
	return ReasonNone
}

// isCapstanKey reports a field the chain itself sets (capstan.parse_error).
func isCapstanKey(k []byte) bool { return len(k) > 8 && string(k[:8]) == "capstan." }
