package config

import (
	_ "embed"
	"errors"
	"fmt"
	"maps"
	"os"
	"reflect"
	"slices"
	"strings"

	"go.uber.org/zap"

	"github.com/capstan-agent/capstan/component"
	"github.com/capstan-agent/capstan/component/conf"
	"github.com/capstan-agent/capstan/inputs/process"
	"github.com/capstan-agent/capstan/spool"
	"github.com/capstan-agent/capstan/spool/batch"
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
type Override = conf.Override

// Options say where a configuration comes from and which component types
// exist.
type Options struct {
	Path      string     // YAML file; "" with YAML nil: the embedded default
	YAML      []byte     // the file's content, if already read
	Environ   []string   // nil: os.Environ(); for overrides and ${VAR}
	Overrides []Override // flags, applied last
	// Registry has the factories of the input and output types; their
	// Configs are the keys of each type.
	Registry *component.Registry
	// CheckDataDir also checks that data_dir could be locked now (see
	// CheckDataDir); not for a config an agent is about to reload.
	CheckDataDir bool
}

// Loaded is a valid configuration and what was noticed on the way.
type Loaded struct {
	*Config
	// Warnings are not errors: a variable that looks like a misspelt key, a
	// configuration with nothing to do, ...
	Warnings []string
	// InUse is set, with CheckDataDir, when the configuration is valid and
	// its data dir is locked by a running capstan.
	InUse *spool.LockedError
}

// Load reads a configuration in layers — the YAML file, then CAPSTAN_*
// environment variables, then overrides — expands ${VAR} and ${VAR:-default}
// in values, applies defaults, and validates: the agent's own checks, each
// component's Validate, and each component's constructor (constructors have
// no side effects, so this runs every check `capstan run` makes before it
// opens anything). Every problem found is in the returned conf.Errors, with
// its key path and file line.
func Load(opts Options) (*Loaded, error) {
	if opts.Registry == nil {
		opts.Registry = component.NewRegistry()
	}
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
	tree, err := conf.Read(conf.Source{
		Name: displayName(opts), YAML: data, Prefix: EnvPrefix, TopKeys: conf.Keys(&Config{}),
		Environ: opts.Environ, Overrides: opts.Overrides,
	})
	if err != nil {
		return nil, err
	}
	d := conf.NewDecoder(tree)
	d.Hook(reflect.TypeFor[*Input](), func(d *conf.Decoder, path string, raw any, v reflect.Value) {
		in := &Input{}
		conf.ApplyDefaults(in)
		in.Settings = decodeTyped(d, path, raw, in, component.KindInput, opts.Registry, func(typ string) (component.Config, bool) {
			f, ok := opts.Registry.InputFactory(typ)
			if !ok {
				return nil, false
			}
			return f.NewConfig(), true
		}, &in.Type)
		v.Set(reflect.ValueOf(in))
	})
	d.Hook(reflect.TypeFor[*Output](), func(d *conf.Decoder, path string, raw any, v reflect.Value) {
		out := &Output{}
		conf.ApplyDefaults(out)
		out.Settings = decodeTyped(d, path, raw, out, component.KindOutput, opts.Registry, func(typ string) (component.Config, bool) {
			f, ok := opts.Registry.OutputFactory(typ)
			if !ok {
				return nil, false
			}
			return f.NewConfig(), true
		}, &out.Type)
		v.Set(reflect.ValueOf(out))
	})

	d.Hook(reflect.TypeFor[Processor](), decodeProcessor)

	cfg := &Config{}
	conf.ApplyDefaults(cfg)
	cfg.DataDir = DefaultDataDir(func(s string) string { v, _ := tree.Lookup(s); return v })
	d.Decode("", tree.Raw, cfg)
	l := &Loaded{Config: cfg, Warnings: tree.Warnings}
	cfg.validate(d, l)
	build(d, l, cfg, opts.Registry)
	var locked *spool.LockedError
	if opts.CheckDataDir && !d.Has("data_dir") {
		if err := CheckDataDir(cfg.DataDir); errors.As(err, &locked) {
			// Not a problem of the configuration: said apart when it is the only one.
		} else if err != nil {
			d.Fail("data_dir", "%v", err)
		}
	}
	if errs := d.Errors(); len(errs) > 0 {
		if locked != nil {
			d.Fail("data_dir", "%v", locked)
			errs = d.Errors()
		}
		return nil, errs
	}
	l.InUse = locked
	return l, nil
}

// decodeTyped decodes an input's or output's section: its common keys into
// common, the rest into the Config of its type. It returns that Config, or
// nil when the type is missing or unknown (its other keys are not checked).
func decodeTyped(d *conf.Decoder, path string, raw any, common any, kind component.Kind,
	reg *component.Registry, newConfig func(string) (component.Config, bool), typ *string) component.Config {
	m, ok := raw.(map[string]any)
	if !ok {
		d.Fail(path, "expected a mapping of keys, got %v", raw)
		return nil
	}
	types := reg.Types(kind)
	t, _ := m["type"].(string)
	*typ = t
	switch {
	case m["type"] == nil:
		d.Fail(conf.Join(path, "type"), "missing: every %s needs a type (one of %s)", kind, strings.Join(types, ", "))
		return nil
	case t == "":
		d.Fail(conf.Join(path, "type"), "expected a type name (one of %s)", strings.Join(types, ", "))
		return nil
	}
	settings, ok := newConfig(t)
	if !ok {
		d.Fail(conf.Join(path, "type"), "unknown %s type %q (expected one of %s)%s", kind, t, strings.Join(types, ", "), conf.DidYouMean(t, types))
		return nil
	}
	d.Decode(path, m, common, settings)
	return settings
}

// decodeProcessor decodes one item of a processors list into its type's
// Config.
func decodeProcessor(d *conf.Decoder, path string, raw any, v reflect.Value) {
	m, ok := raw.(map[string]any)
	if !ok {
		d.Fail(path, "expected a processor (a mapping with a type), got %v", raw)
		return
	}
	t, _ := m["type"].(string)
	if t == "" {
		d.Fail(conf.Join(path, "type"), "missing: every processor needs a type (one of %s)", strings.Join(process.Types(), ", "))
		return
	}
	cfg, ok := process.NewConfig(t)
	if !ok {
		d.Fail(conf.Join(path, "type"), "unknown processor type %q (expected one of %s)%s", t, strings.Join(process.Types(), ", "), conf.DidYouMean(t, process.Types()))
		return
	}
	p := Processor{Type: t, Config: cfg}
	d.Decode(path, m, &p, cfg)
	v.Set(reflect.ValueOf(p))
}

// Chain builds an input's processor chain (nil without processors); its
// errors have paths relative to the input (processors[2].drop_if).
func (c *Config) Chain(in *Input, inputFields []string) (*process.Chain, error) {
	if len(in.Processors) == 0 {
		return nil, nil
	}
	cfgs := make([]process.Config, len(in.Processors))
	for i, p := range in.Processors {
		cfgs[i] = p.Config
	}
	return process.NewFromConfigs(cfgs, process.Options{Streams: c.StreamNames(), InputFields: inputFields})
}

// StreamNames are the declared streams and the default one.
func (c *Config) StreamNames() []string {
	names := sortedKeys(c.Streams)
	if _, ok := c.Streams[DefaultStream]; !ok {
		names = append(names, DefaultStream)
	}
	return names
}

// InputFields are the record fields an input sets before its processors
// run, as its Config says (component.RecordFields); any field when it does
// not say.
func InputFields(in *Input) []string {
	if rf, ok := in.Settings.(component.RecordFields); ok {
		return rf.RecordFields()
	}
	return []string{"*"}
}

// InputSettings are what the input name is built with.
func (c *Config) InputSettings(name string, log *zap.Logger) component.Settings {
	in := c.Inputs[name]
	attrs := c.SourceAttributes(in)
	keys := make([]string, 0, len(attrs))
	for k := range attrs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	set := component.Settings{ID: component.ID{Kind: component.KindInput, Type: in.Type, Name: name}, Logger: log}
	for _, k := range keys {
		set.Attributes = append(set.Attributes, batch.StringAttr(k, attrs[k]))
	}
	return set
}

// OutputSettings are what the output name is built with.
func (c *Config) OutputSettings(name string, log *zap.Logger) component.Settings {
	out := c.Outputs[name]
	return component.Settings{ID: component.ID{Kind: component.KindOutput, Type: out.Type, Name: name}, Logger: log, StartAt: out.StartAt}
}

// warner is a component Config that finds things valid but probably
// mistaken (a Loki label from an id): warnings with paths relative to the
// component, which validate and run print.
type warner interface {
	Warnings() conf.Errors
}

// build runs every component's Validate, then its constructor, and reports
// what they refuse under the component's key path. Problems already found
// at a key (a value of the wrong type) are not reported again.
func build(d *conf.Decoder, l *Loaded, cfg *Config, reg *component.Registry) {
	nop := zap.NewNop()
	report := func(path string, err error) {
		var errs conf.Errors
		errs.Merge(path, err)
		for _, e := range errs {
			if !d.Has(e.Path) {
				d.Fail(e.Path, "%s", e.Msg)
			}
		}
	}
	for _, name := range sortedKeys(cfg.Inputs) {
		in := cfg.Inputs[name]
		f, ok := reg.InputFactory(in.Type)
		if !ok || in.Settings == nil {
			continue
		}
		path := conf.Join("inputs", name)
		if _, err := cfg.Chain(in, InputFields(in)); err != nil {
			report(path, err)
		}
		if err := in.Settings.Validate(); err != nil {
			report(path, err)
			continue
		}
		if _, err := f.NewInput(cfg.InputSettings(name, nop), in.Settings); err != nil {
			report(path, err)
		}
	}
	for _, name := range sortedKeys(cfg.Outputs) {
		out := cfg.Outputs[name]
		f, ok := reg.OutputFactory(out.Type)
		if !ok || out.Settings == nil {
			continue
		}
		path := conf.Join("outputs", name)
		if err := out.Settings.Validate(); err != nil {
			report(path, err)
			continue
		}
		if w, ok := out.Settings.(warner); ok {
			for _, e := range w.Warnings() {
				l.Warnings = append(l.Warnings, d.Warning(conf.JoinPath(path, e.Path), e.Msg))
			}
		}
		if _, err := f.NewOutput(cfg.OutputSettings(name, nop), out.Settings); err != nil {
			report(path, err)
		}
	}
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

// IsInvalid reports whether err is a configuration's content being wrong (as
// opposed to the file not being readable).
func IsInvalid(err error) bool { return conf.IsInvalid(err) }

// Errors are the problems of a configuration, with their key paths.
type Errors = conf.Errors

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }
