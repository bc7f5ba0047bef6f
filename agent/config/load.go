package config

import (
	_ "embed"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/confmap"
	"github.com/knadh/koanf/providers/env/v2"
	"github.com/knadh/koanf/providers/rawbytes"
	"github.com/knadh/koanf/v2"
)

// DefaultYAML is the embedded configuration `capstan run` uses without -c.
//
//go:embed default.yaml
var DefaultYAML []byte

// EnvPrefix starts the environment variables that override keys: the rest of
// the name is the key path, upper-cased, with __ between levels:
// CAPSTAN_SPOOL__FSYNC=always sets spool.fsync, CAPSTAN_DATA_DIR sets data_dir.
const EnvPrefix = "CAPSTAN_"

// Override is one key set on the command line.
type Override struct {
	Key    string // key path, e.g. log.level
	Value  string
	Origin string // what set it, for error messages, e.g. --log-level
}

// Options say where a configuration comes from.
type Options struct {
	Path      string     // YAML file; "" with YAML nil: the embedded default
	YAML      []byte     // the file's content, if already read
	Environ   []string   // nil: os.Environ(); for overrides and ${VAR}
	Overrides []Override // flags, applied last
	// CheckDataDir also checks that data_dir could be locked now (see
	// CheckDataDir); not for a config an agent is about to reload.
	CheckDataDir bool
}

// Load reads a configuration in layers — the YAML file, then CAPSTAN_*
// environment variables, then overrides — expands ${VAR} and ${VAR:-default}
// in values, applies defaults, and validates. Every problem found is in the
// returned Errors, with its key path.
func Load(opts Options) (*Config, error) {
	environ := opts.Environ
	if environ == nil {
		environ = os.Environ()
	}
	lookup := lookupIn(environ)
	data := opts.YAML
	if data == nil && opts.Path != "" {
		b, err := os.ReadFile(opts.Path)
		if err != nil {
			return nil, fmt.Errorf("read config: %w", err)
		}
		data = b
	}
	if data == nil {
		data = DefaultYAML
	}

	k := koanf.New(".")
	if err := k.Load(rawbytes.Provider(data), yaml.Parser()); err != nil {
		return nil, Errors{{Msg: fmt.Sprintf("parse %s: %s", displayName(opts), oneLine(err))}}
	}
	origin := map[string]string{}
	envProvider := env.Provider(".", env.Opt{
		Prefix:      EnvPrefix,
		EnvironFunc: func() []string { return environ },
		TransformFunc: func(name, value string) (string, any) {
			key, ok := envKey(name)
			if !ok {
				return "", nil
			}
			origin[key] = name
			return key, value
		},
	})
	if err := k.Load(envProvider, nil); err != nil {
		return nil, fmt.Errorf("read environment: %w", err)
	}
	if len(opts.Overrides) > 0 {
		flat := map[string]any{}
		for _, o := range opts.Overrides {
			flat[o.Key] = o.Value
			origin[o.Key] = o.Origin
		}
		if err := k.Load(confmap.Provider(flat, "."), nil); err != nil {
			return nil, fmt.Errorf("apply flags: %w", err)
		}
	}

	raw := k.Raw()
	d := &decoder{origin: origin, lines: keyLines(data)}
	interpolateTree(d, "", raw, lookup)

	cfg := &Config{}
	applyDefaults(reflectValue(cfg))
	cfg.DataDir = DefaultDataDir(func(s string) string { v, _ := lookup(s); return v })
	d.decodeStruct("", raw, reflectValue(cfg))
	cfg.validate(d)
	if opts.CheckDataDir && !d.has("data_dir") {
		if err := CheckDataDir(cfg.DataDir); err != nil {
			d.fail("data_dir", "%v", err)
		}
	}
	if len(d.errs) > 0 {
		return nil, d.errs.sorted()
	}
	return cfg, nil
}

// envKey maps CAPSTAN_SPOOL__FSYNC to spool.fsync. Variables whose first
// level is not a top-level key (CAPSTAN_CONFIG, CAPSTAN_SOAK) belong to
// something else and are left alone.
func envKey(name string) (string, bool) {
	rest := strings.ToLower(strings.TrimPrefix(name, EnvPrefix))
	parts := strings.Split(rest, "__")
	top := map[string]field{}
	fields(reflectValue(&Config{}), top)
	if _, ok := top[parts[0]]; !ok {
		return "", false
	}
	return strings.Join(parts, "."), true
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
func interpolateTree(d *decoder, path string, node any, lookup func(string) (string, bool)) {
	switch x := node.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			p := join(path, k)
			if s, ok := x[k].(string); ok {
				x[k] = expandValue(d, p, s, lookup)
				continue
			}
			interpolateTree(d, p, x[k], lookup)
		}
	case []any:
		for i, e := range x {
			p := fmt.Sprintf("%s[%d]", path, i)
			if s, ok := e.(string); ok {
				x[i] = expandValue(d, p, s, lookup)
				continue
			}
			interpolateTree(d, p, e, lookup)
		}
	}
}

func expandValue(d *decoder, path, s string, lookup func(string) (string, bool)) string {
	out, err := Interpolate(s, lookup)
	if err != nil {
		d.fail(path, "%v", err)
		return s
	}
	return out
}

// Interpolate expands ${VAR} (VAR must be set) and ${VAR:-default} (default
// when VAR is unset or empty) in s; $$ is a literal $, and a $ followed by
// anything else is kept as it is.
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

func displayName(opts Options) string {
	switch {
	case opts.Path != "":
		return opts.Path
	case opts.YAML != nil:
		return "config"
	}
	return "embedded default config"
}

// oneLine folds a parser's multi-line message into one line.
func oneLine(err error) string {
	var s []string
	for _, l := range strings.Split(err.Error(), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			s = append(s, l)
		}
	}
	return strings.Join(s, "; ")
}

// IsInvalid reports whether err is a configuration's content being wrong (as
// opposed to the file not being readable).
func IsInvalid(err error) bool {
	var e Errors
	return errors.As(err, &e)
}
