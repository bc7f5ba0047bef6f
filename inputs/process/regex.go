package process

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// RegexConfig parses the body, or a field, with an RE2 pattern: each named
// group that matched becomes a field.
type RegexConfig struct {
	Common  `koanf:",squash"`
	OnError `koanf:",squash"`
	// Field is the field to parse; empty parses the body.
	Field   string `koanf:"field"`
	Pattern string `koanf:"pattern"`
	// Target prefixes the fields' names (target.group).
	Target string `koanf:"target"`
	// Types converts groups: int, float or bool (string is the default).
	// A value that does not convert stays a string.
	Types map[string]string `koanf:"types"`
	// Remove deletes Field once it parsed.
	Remove bool `koanf:"remove"`
}

func (c *RegexConfig) typeName() string { return "regex" }

// Validate checks the keys.
func (c *RegexConfig) Validate() error {
	var errs errorList
	c.OnError.validate(&errs)
	if c.Pattern == "" {
		errs.add("pattern", "needed")
	} else if re, err := regexp.Compile(c.Pattern); err != nil {
		errs.add("pattern", err.Error())
	} else {
		groups := namedGroups(re)
		if len(groups) == 0 {
			errs.add("pattern", "has no named group (?P<name>...): it would set no field")
		}
		validateTypes(c.Types, groups, &errs)
	}
	validateCommon(&c.Common, &errs)
	return errs.err()
}

func namedGroups(re *regexp.Regexp) []string {
	var out []string
	for _, n := range re.SubexpNames() {
		if n != "" {
			out = append(out, n)
		}
	}
	return out
}

// validateTypes checks a types map; names, if not nil, are the only fields
// that can be converted.
func validateTypes(types map[string]string, names []string, errs *errorList) {
	keys := make([]string, 0, len(types))
	for k := range types {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if _, ok := convKinds[types[k]]; !ok {
			errs.add("types."+k, fmt.Sprintf("%q: want string, int, float or bool", types[k]))
		}
		if names != nil && !contains(names, k) {
			errs.add("types."+k, fmt.Sprintf("no group %q in the pattern (groups: %s)", k, strings.Join(names, ", ")))
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

var convKinds = map[string]Kind{"string": KindString, "int": KindInt, "float": KindFloat, "bool": KindBool}

type regexStep struct {
	p     parseStep
	re    *regexp.Regexp
	names [][]byte // per capture group: the field name, nil if unnamed
	kinds []Kind   // per capture group: the conversion
}

func (c *RegexConfig) build(b *builder) step {
	s := &regexStep{p: b.parseStep(c.Field, c.Remove, c.OnError), re: regexp.MustCompile(c.Pattern)}
	if c.Remove && c.Field != "" {
		b.flow.remove(c.Field)
	}
	for _, n := range s.re.SubexpNames() {
		if n == "" {
			s.names = append(s.names, nil)
			s.kinds = append(s.kinds, KindString)
			continue
		}
		name := n
		if c.Target != "" {
			name = c.Target + "." + n
		}
		s.names = append(s.names, []byte(name))
		s.kinds = append(s.kinds, convKinds[c.Types[n]])
		b.produce(name)
	}
	return s
}

func (s *regexStep) run(rn *Runner, ls *localStats, r *Record) Reason {
	in, ok := s.p.input(r)
	if !ok {
		return s.p.failed(ls, r, "field missing", -1)
	}
	// Go's regexp returns a new slice for every match: the one allocation
	// of this processor.
	loc := s.re.FindSubmatchIndex(in)
	if loc == nil {
		return s.p.failed(ls, r, "no match", -1)
	}
	s.p.parsed(r)
	for g := 1; g < len(s.names); g++ {
		if s.names[g] == nil || loc[2*g] < 0 {
			continue
		}
		kind, v := convert(r, s.kinds[g], in[loc[2*g]:loc[2*g+1]])
		r.set(s.names[g], kind, v)
	}
	return ReasonNone
}

// convert turns text into the kind asked for, in canonical form; text that
// does not convert stays a string.
func convert(r *Record, want Kind, v []byte) (Kind, []byte) {
	switch want {
	case KindInt:
		if n, ok := parseInt(v); ok {
			if len(v) > 0 && (v[0] == '+' || v[0] == '0' && len(v) > 1 || len(v) > 1 && v[0] == '-' && v[1] == '0') {
				m := r.mark()
				r.arena = appendInt(r.arena, n)
				return KindInt, r.since(m)
			}
			return KindInt, v
		}
	case KindFloat:
		if plainFloat(v) {
			return KindFloat, v
		}
		if f, ok := parseFloat(v); ok {
			m := r.mark()
			r.arena = appendFloat(r.arena, f)
			return KindFloat, r.since(m)
		}
	case KindBool:
		switch string(v) {
		case "true", "True", "TRUE", "1", "yes", "on":
			return KindBool, valTrue
		case "false", "False", "FALSE", "0", "no", "off":
			return KindBool, valFalse
		}
	}
	return KindString, v
}

var (
	valTrue  = []byte("true")
	valFalse = []byte("false")
)
