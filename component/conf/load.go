package conf

import (
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/knadh/koanf/providers/confmap"
	"github.com/knadh/koanf/providers/env/v2"
	"github.com/knadh/koanf/v2"
	"go.yaml.in/yaml/v3"
)

// Override is one key set on the command line.
type Override struct {
	Key    string // key path, e.g. log.level
	Value  string
	Origin string // what set it, for error messages, e.g. --log-level
}

// Source says where a configuration comes from, in layers: the YAML, then
// environment variables Prefix<KEY PATH> (upper-cased, __ between levels),
// then Overrides.
type Source struct {
	Name      string     // how messages name the YAML: a path, "config", ...
	YAML      []byte     // the document
	Prefix    string     // e.g. CAPSTAN_
	TopKeys   []string   // the top-level keys: variables naming another are not configuration
	Environ   []string   // nil: os.Environ(); for variables and ${VAR}
	Overrides []Override // applied last
}

// Tree is a configuration read from its layers and interpolated, before it
// is decoded: the merged key tree, the file line of each key path, and what
// set values that did not come from the file.
type Tree struct {
	Raw      map[string]any
	Lines    map[string]int
	Origin   map[string]string
	Warnings []string // not errors: e.g. a variable that looks like a misspelt key
	Lookup   func(string) (string, bool)
	errs     Errors // problems found while reading (interpolation)
}

// Read reads src's layers and expands ${VAR} and ${VAR:-default} in every
// string value. A document that does not parse is one problem naming its line;
// problems of values are kept for the decoder to report with the others.
func Read(src Source) (*Tree, error) {
	environ := src.Environ
	if environ == nil {
		environ = os.Environ()
	}
	t := &Tree{Origin: map[string]string{}, Lookup: lookupIn(environ)}
	var doc map[string]any
	if err := yaml.Unmarshal(src.YAML, &doc); err != nil {
		return nil, Errors{{Msg: fmt.Sprintf("parse %s: %s", src.Name, yamlError(err, src.YAML))}}
	}
	t.Lines = keyLines(src.YAML)
	k := koanf.New(".")
	if err := k.Load(confmap.Provider(doc, ""), nil); err != nil {
		return nil, fmt.Errorf("read %s: %w", src.Name, err)
	}
	top := map[string]bool{}
	for _, key := range src.TopKeys {
		top[key] = true
	}
	envProvider := env.Provider(".", env.Opt{
		Prefix:      src.Prefix,
		EnvironFunc: func() []string { return environ },
		TransformFunc: func(name, value string) (string, any) {
			key, ok := envKey(src.Prefix, name, top)
			if !ok {
				if w := envTypo(src.Prefix, name, src.TopKeys); w != "" {
					t.Warnings = append(t.Warnings, w)
				}
				return "", nil
			}
			t.Origin[key] = name
			return key, value
		},
	})
	if err := k.Load(envProvider, nil); err != nil {
		return nil, fmt.Errorf("read environment: %w", err)
	}
	if len(src.Overrides) > 0 {
		flat := map[string]any{}
		for _, o := range src.Overrides {
			flat[o.Key] = o.Value
			t.Origin[o.Key] = o.Origin
		}
		if err := k.Load(confmap.Provider(flat, "."), nil); err != nil {
			return nil, fmt.Errorf("apply flags: %w", err)
		}
	}
	t.Raw = k.Raw()
	d := &Decoder{origin: t.Origin, lines: t.Lines}
	interpolateTree(d, "", t.Raw, t.Lookup)
	t.errs = d.errs
	sort.Strings(t.Warnings)
	return t, nil
}

// yamlError is the parser's message on one line. For a key indented to a
// level no enclosing key has, the parser names the line where the enclosing
// mapping starts; the line that is wrong is found and named instead.
func yamlError(err error, doc []byte) string {
	var s []string
	for _, l := range strings.Split(err.Error(), "\n") {
		if l = strings.TrimSpace(strings.TrimPrefix(l, "yaml: ")); l != "" {
			s = append(s, l)
		}
	}
	msg := strings.Join(s, "; ")
	if strings.Contains(msg, "did not find expected key") {
		if n := badIndent(doc); n > 0 {
			return fmt.Sprintf("line %d: this key is indented to a level no key above it has (check its spaces)", n)
		}
	}
	return msg
}

// badIndent is the first line that dedents to an indentation no enclosing
// line has, or 0.
func badIndent(doc []byte) int {
	var open []int // indentations of the enclosing lines, innermost last
	prev := -1
	for i, line := range strings.Split(string(doc), "\n") {
		trimmed := strings.TrimLeft(line, " ")
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		indent := len(line) - len(trimmed)
		switch {
		case prev < 0 || indent > prev:
			open = append(open, indent)
		case indent < prev:
			for len(open) > 0 && open[len(open)-1] > indent {
				open = open[:len(open)-1]
			}
			if len(open) == 0 || open[len(open)-1] != indent {
				return i + 1
			}
		}
		prev = indent
	}
	return 0
}

// envKey maps PREFIX_SPOOL__FSYNC to spool.fsync. Variables whose first level
// is not a top-level key (CAPSTAN_CONFIG, CAPSTAN_SOAK) belong to something
// else and are left alone.
func envKey(prefix, name string, top map[string]bool) (string, bool) {
	rest := strings.ToLower(strings.TrimPrefix(name, prefix))
	parts := strings.Split(rest, "__")
	if !top[parts[0]] {
		return "", false
	}
	return strings.Join(parts, "."), true
}

// envTypo tells about a variable that is not configuration but looks like a
// key path written with one underscore between levels (CAPSTAN_LOG_LEVEL).
func envTypo(prefix, name string, topKeys []string) string {
	rest := strings.ToLower(strings.TrimPrefix(name, prefix))
	for _, k := range topKeys {
		if strings.HasPrefix(rest, k+"_") && !strings.HasPrefix(rest, k+"__") {
			fixed := prefix + strings.ToUpper(k) + "__" + strings.ToUpper(strings.TrimPrefix(rest, k+"_"))
			return fmt.Sprintf("environment variable %s is not configuration and is ignored; did you mean %s? (levels of a key path are separated by a double underscore)", name, fixed)
		}
	}
	return ""
}

func lookupIn(environ []string) func(string) (string, bool) {
	m := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// interpolateTree expands ${VAR} in every string value of the tree, in place.
func interpolateTree(d *Decoder, path string, node any, lookup func(string) (string, bool)) {
	switch x := node.(type) {
	case map[string]any:
		for _, k := range sortedKeys(x) {
			p := Join(path, k)
			if s, ok := x[k].(string); ok {
				x[k] = expandValue(d, p, s, lookup)
				continue
			}
			interpolateTree(d, p, x[k], lookup)
		}
	case []any:
		for i, e := range x {
			p := Index(path, i)
			if s, ok := e.(string); ok {
				x[i] = expandValue(d, p, s, lookup)
				continue
			}
			interpolateTree(d, p, e, lookup)
		}
	}
}

func expandValue(d *Decoder, path, s string, lookup func(string) (string, bool)) string {
	out, err := Interpolate(s, lookup)
	if err != nil {
		d.Fail(path, "%v", err)
		return s
	}
	return out
}

// Interpolate expands ${VAR} (VAR must be set) and ${VAR:-default} (default
// when VAR is unset or empty) in s; $$ is a literal $, ${a.dotted.name} (no
// environment variable has a dot) is kept for processor templates, and a $
// followed by anything else is kept as it is.
func Interpolate(s string, lookup func(string) (string, bool)) (string, error) {
	if !strings.Contains(s, "$") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '$' || i+1 >= len(s) {
			b.WriteByte(c)
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
			continue
		case '{':
		default:
			b.WriteByte(c)
			continue
		}
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			return "", fmt.Errorf("unterminated ${ in %q", s)
		}
		expr := s[i+2 : i+end]
		name, def, hasDef := strings.Cut(expr, ":-")
		if !hasDef && strings.Contains(name, ".") && !strings.ContainsAny(name, "${") {
			// A dotted name is no environment variable: it is a
			// processor template's field (${k8s.pod.name}), kept as it is.
			b.WriteString(s[i : i+end+1])
			i += end
			continue
		}
		if !validEnvName(name) {
			return "", fmt.Errorf("${%s}: %q is not a variable name", expr, name)
		}
		v, ok := lookup(name)
		switch {
		case hasDef && v == "":
			v = def
		case !ok:
			return "", fmt.Errorf("environment variable %s is not set (write ${%s:-default} to give a default)", name, name)
		}
		b.WriteString(v)
		i += end
	}
	return b.String(), nil
}

func validEnvName(s string) bool {
	if s == "" || s[0] >= '0' && s[0] <= '9' {
		return false
	}
	for _, r := range s {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}
