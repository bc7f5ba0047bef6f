package process

import (
	"fmt"
	"github.com/capstan-agent/capstan/component/conf"
	"sort"
	"strings"
)

// The static field check: walking the chain in order, it keeps the set of
// fields a record may have at each step, and refuses a step that reads a
// field no earlier step (nor the input) can have set: a regex group that is
// not in the pattern, a field a keep or delete removed, a typo. Fields
// whose names cannot be known (json merge, logfmt) open the set, for all
// names or under a prefix. A step with an if may or may not run, so what it
// removes is still possible after it.

type flowState struct {
	all      bool              // any name is possible
	prefixes map[string]string // any name under the prefix is possible; -> who
	names    map[string]string // name -> who set it
}

func newFlow(inputFields []string) *flowState {
	f := &flowState{prefixes: map[string]string{}, names: map[string]string{}}
	for _, n := range inputFields {
		f.add(n, "the input")
	}
	return f
}

// add declares that name (or, ending in *, every name with that prefix)
// may be set from here on.
func (f *flowState) add(name, who string) {
	switch {
	case name == "*":
		f.all = true
	case strings.HasSuffix(name, "*"):
		f.prefixes[strings.TrimSuffix(name, "*")] = who
	default:
		f.names[name] = who
	}
}

func (f *flowState) has(name string) bool {
	if f.all {
		return true
	}
	if _, ok := f.names[name]; ok {
		return true
	}
	for p := range f.prefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// remove declares that the fields matching pattern are gone.
func (f *flowState) remove(pattern string) {
	if f.all {
		return // unknown names stay possible
	}
	for n := range f.names {
		if matchName(pattern, n) {
			delete(f.names, n)
		}
	}
	if p, ok := strings.CutSuffix(pattern, "*"); ok {
		for q := range f.prefixes {
			if strings.HasPrefix(q, p) {
				delete(f.prefixes, q)
			}
		}
	}
}

// keepOnly declares that only the fields matching patterns remain, and
// reports whether any can.
func (f *flowState) keepOnly(patterns []string) bool {
	if f.all {
		// Only the kept names can remain, and any of them may be there.
		f.all = false
		for _, p := range patterns {
			f.add(p, "the input or an earlier processor")
		}
		return true
	}
	kept := map[string]string{}
	for n, who := range f.names {
		for _, p := range patterns {
			if matchName(p, n) {
				kept[n] = who
			}
		}
	}
	keptPrefixes := map[string]string{}
	for q, who := range f.prefixes {
		for _, p := range patterns {
			switch pp, wild := strings.CutSuffix(p, "*"); {
			case wild && strings.HasPrefix(q, pp):
				keptPrefixes[q] = who
			case wild && strings.HasPrefix(pp, q):
				keptPrefixes[pp] = who
			case !wild && strings.HasPrefix(p, q):
				kept[p] = who
			}
		}
	}
	f.names, f.prefixes = kept, keptPrefixes
	return len(kept)+len(keptPrefixes) > 0
}

// clone is the state a conditional step starts from.
func (f *flowState) clone() *flowState {
	c := &flowState{all: f.all, prefixes: map[string]string{}, names: map[string]string{}}
	for k, v := range f.prefixes {
		c.prefixes[k] = v
	}
	for k, v := range f.names {
		c.names[k] = v
	}
	return c
}

// union makes f what either f or g allows.
func (f *flowState) union(g *flowState) {
	f.all = f.all || g.all
	for k, v := range g.prefixes {
		if _, ok := f.prefixes[k]; !ok {
			f.prefixes[k] = v
		}
	}
	for k, v := range g.names {
		if _, ok := f.names[k]; !ok {
			f.names[k] = v
		}
	}
}

// missing explains why name cannot be there.
func (f *flowState) missing(name string) string {
	known := make([]string, 0, len(f.names)+len(f.prefixes))
	for n := range f.names {
		if !isCapstanKey([]byte(n)) {
			known = append(known, n)
		}
	}
	for p := range f.prefixes {
		known = append(known, p+"*")
	}
	sort.Strings(known)
	msg := fmt.Sprintf("field %q is set by no earlier processor nor the input", name)
	if s := conf.Suggest(name, known); s != "" && len(name) > 2 { // a one- or two-letter name is close to anything
		return msg + fmt.Sprintf(" (did you mean %s?)", s)
	}
	if len(known) == 0 {
		return msg + " (no field can be set here)"
	}
	if len(known) > 12 {
		known = append(known[:12], "...")
	}
	return msg + " (fields here: " + strings.Join(known, ", ") + ")"
}

// matchName matches a field name against a name or a prefix ending in *.
func matchName(pattern, name string) bool {
	if p, ok := strings.CutSuffix(pattern, "*"); ok {
		return strings.HasPrefix(name, p)
	}
	return pattern == name
}
