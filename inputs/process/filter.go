package process

import (
	"fmt"
	"slices"
	"strings"
)

// FilterConfig drops records by a condition: drop_if drops those for which
// it is true, keep_if those for which it is false. A condition that fails
// to evaluate keeps the record (counted in EvalErrors).
type FilterConfig struct {
	Common `koanf:",squash"`
	DropIf string `koanf:"drop_if"`
	KeepIf string `koanf:"keep_if"`
}

func (c *FilterConfig) typeName() string { return "filter" }

// Validate checks the keys.
func (c *FilterConfig) Validate() error {
	var errs errorList
	switch {
	case c.DropIf == "" && c.KeepIf == "":
		errs.add("drop_if", "needed (or keep_if)")
	case c.DropIf != "" && c.KeepIf != "":
		errs.add("keep_if", "set either drop_if or keep_if")
	case c.DropIf != "":
		validateExpr("drop_if", c.DropIf, true, &errs)
	default:
		validateExpr("keep_if", c.KeepIf, true, &errs)
	}
	validateCommon(&c.Common, &errs)
	return errs.err()
}

type filterStep struct {
	prog *program
	drop bool // drop when true (drop_if), else when false
}

func (c *FilterConfig) build(b *builder) step {
	if c.DropIf != "" {
		return &filterStep{prog: b.expr("drop_if", c.DropIf, true), drop: true}
	}
	return &filterStep{prog: b.expr("keep_if", c.KeepIf, true)}
}

func (s *filterStep) run(rn *Runner, ls *localStats, r *Record) Reason {
	v, ok := rn.cond(s.prog, r)
	if !ok {
		ls.evalErrors++
		return ReasonNone
	}
	if v == s.drop {
		return ReasonFilter
	}
	return ReasonNone
}

// RouteConfig chooses the record's stream: from an expression, or the
// first case whose if is true; Default when neither gives a declared
// stream. Without Default such a record keeps the input's stream.
type RouteConfig struct {
	Common `koanf:",squash"`
	// Expression evaluates to a stream name.
	Expression string      `koanf:"expression"`
	Cases      []RouteCase `koanf:"cases"`
	Default    string      `koanf:"default"`
}

// RouteCase sends the records for which If is true to Stream.
type RouteCase struct {
	If     string `koanf:"if"`
	Stream string `koanf:"stream"`
}

func (c *RouteConfig) typeName() string { return "route" }

// Validate checks the keys.
func (c *RouteConfig) Validate() error {
	var errs errorList
	switch {
	case c.Expression == "" && len(c.Cases) == 0:
		errs.add("expression", "needed (or cases)")
	case c.Expression != "" && len(c.Cases) > 0:
		errs.add("cases", "set either expression or cases")
	case c.Expression != "":
		validateExpr("expression", c.Expression, false, &errs)
	}
	for i, rc := range c.Cases {
		path := fmt.Sprintf("cases[%d]", i)
		if rc.If == "" {
			errs.add(path+".if", "needed")
		} else {
			validateExpr(path+".if", rc.If, true, &errs)
		}
		if rc.Stream == "" {
			errs.add(path+".stream", "needed")
		}
	}
	validateCommon(&c.Common, &errs)
	return errs.err()
}

type routeStep struct {
	prog    *program
	cases   []routeCase
	def     string
	streams []string // declared; nil = any
}

type routeCase struct {
	prog   *program
	stream string
}

func (c *RouteConfig) build(b *builder) step {
	s := &routeStep{def: c.Default, streams: b.opts.Streams}
	check := func(key, name string) {
		if s.streams != nil && !slices.Contains(s.streams, name) {
			b.fail(key, fmt.Sprintf("stream %q is not declared (streams: %s)", name, strings.Join(s.streams, ", ")))
		}
	}
	if c.Expression != "" {
		s.prog = b.expr("expression", c.Expression, false)
		if s.prog != nil {
			for _, name := range s.prog.results {
				check("expression", name)
			}
		}
	}
	for i, rc := range c.Cases {
		path := fmt.Sprintf("cases[%d]", i)
		check(path+".stream", rc.Stream)
		s.cases = append(s.cases, routeCase{prog: b.expr(path+".if", rc.If, true), stream: rc.Stream})
	}
	if c.Default != "" {
		check("default", c.Default)
	}
	return s
}

func (s *routeStep) run(rn *Runner, ls *localStats, r *Record) Reason {
	if s.prog != nil {
		out, err := rn.env.eval(s.prog, r)
		name, isString := out.(string)
		if err != nil {
			ls.evalErrors++
		}
		if err == nil && isString {
			if stream, ok := s.declared(name); ok {
				r.Stream = stream
				return ReasonNone
			}
		}
		ls.routeMisses++
		s.fallback(r)
		return ReasonNone
	}
	for _, rc := range s.cases {
		v, ok := rn.cond(rc.prog, r)
		if !ok {
			ls.evalErrors++
		}
		if v {
			r.Stream = rc.stream
			return ReasonNone
		}
	}
	s.fallback(r)
	return ReasonNone
}

func (s *routeStep) fallback(r *Record) {
	if s.def != "" {
		r.Stream = s.def
	}
}

// declared returns the declared stream's own string for name (name may
// point into the record), or a copy of name when streams are not declared.
func (s *routeStep) declared(name string) (string, bool) {
	if s.streams == nil {
		return strings.Clone(name), name != ""
	}
	for _, st := range s.streams {
		if st == name {
			return st, true
		}
	}
	return "", false
}
