package process

import (
	"fmt"

	"github.com/capstan-agent/capstan/component/conf"
	"sort"
	"strings"
)

// Spec is one item of an input's processors list as configuration decodes
// it: the type, and the item's other keys left for the type to decode
// (koanf's ",remain"). DecodeSpecs makes Specs from a YAML list.
type Spec struct {
	Type string         `koanf:"type"`
	Keys map[string]any `koanf:",remain"`
}

// Config is one processor's configuration: each type's own struct
// (JSONConfig, FilterConfig ...), with its defaults and Validate.
type Config interface {
	// Validate checks the keys of the processor alone; errors are Errors
	// with key paths relative to the processor (e.g. "drop_if").
	Validate() error
	typeName() string
	common() *Common
	// build compiles the processor into the chain: it reads and declares
	// fields for the static checks and reports problems through b.
	build(b *builder) step
}

// Common are the keys every processor has.
type Common struct {
	// Name labels the processor's metrics; by default its type and
	// position, e.g. json_0.
	Name string `koanf:"name"`
	// If is a condition: a record for which it is false passes the
	// processor untouched (counted as skipped).
	If string `koanf:"if"`
}

func (c *Common) common() *Common { return c }

// OnError is what a parser does with a record it cannot parse. Whatever it
// does, the failure is counted.
type OnError struct {
	// OnError is flag (keep the record, set capstan.parse_error), keep
	// (keep it unmarked) or drop (drop it, reason parse_error).
	OnError string `koanf:"on_error"`
}

func (o OnError) validate(errs *errorList) {
	switch o.OnError {
	case "", "flag", "keep", "drop":
	default:
		errs.add("on_error", fmt.Sprintf("%q: want flag, keep or drop", o.OnError))
	}
}

// configTypes makes each type's Config with its defaults; it is the one
// list of processor types.
var configTypes = map[string]func() Config{
	"json":      func() Config { return newJSONConfig() },
	"regex":     func() Config { return &RegexConfig{} },
	"logfmt":    func() Config { return &LogfmtConfig{} },
	"timestamp": func() Config { return &TimestampConfig{Layouts: []string{"rfc3339"}, Timezone: "UTC"} },
	"set":       func() Config { return &SetConfig{} },
	"rename":    func() Config { return &RenameConfig{} },
	"copy":      func() Config { return &CopyConfig{} },
	"delete":    func() Config { return &DeleteConfig{} },
	"keep":      func() Config { return &KeepConfig{} },
	"filter":    func() Config { return &FilterConfig{} },
	"route":     func() Config { return &RouteConfig{} },
	"redact":    func() Config { return newRedactConfig() },
	"throttle":  func() Config { return &ThrottleConfig{MaxKeys: 1000} },
	"sample":    func() Config { return &SampleConfig{} },
}

// NewConfig returns the Config of a processor type with its defaults.
func NewConfig(typ string) (Config, bool) {
	mk, ok := configTypes[typ]
	if !ok {
		return nil, false
	}
	return mk(), true
}

// Types lists the processor types, sorted.
func Types() []string {
	out := make([]string, 0, len(configTypes))
	for t := range configTypes {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// DecodeSpecs turns the value of a processors key, as a YAML or koanf
// decoder gives it (a list of maps), into Specs.
func DecodeSpecs(raw any) ([]Spec, error) {
	if raw == nil {
		return nil, nil
	}
	list, ok := raw.([]any)
	if !ok {
		return nil, Errors{{Path: "processors", Msg: "want a list of processors, got " + describe(raw)}}
	}
	var errs errorList
	specs := make([]Spec, 0, len(list))
	for i, item := range list {
		m, ok := asMap(item)
		if !ok {
			errs.add(fmt.Sprintf("processors[%d]", i), "want a map with a type, got "+describe(item))
			continue
		}
		s := Spec{Keys: map[string]any{}}
		for k, v := range m {
			if k == "type" {
				s.Type, _ = v.(string)
				if s.Type == "" {
					errs.add(fmt.Sprintf("processors[%d].type", i), "want a type name, got "+describe(v))
				}
				continue
			}
			s.Keys[k] = v
		}
		specs = append(specs, s)
	}
	return specs, errs.err()
}

// Decode makes the processor's Config from its Spec: defaults, then the
// keys; errors have paths relative to the processor.
func (s Spec) Decode() (Config, error) {
	if s.Type == "" {
		return nil, Errors{{Path: "type", Msg: "needed (types: " + strings.Join(Types(), ", ") + ")"}}
	}
	mk, ok := configTypes[s.Type]
	if !ok {
		return nil, Errors{{Path: "type", Msg: fmt.Sprintf("unknown processor type %q (types: %s)%s", s.Type,
			strings.Join(Types(), ", "), conf.DidYouMean(s.Type, Types()))}}
	}
	cfg := mk()
	d := conf.NewDecoder(nil)
	d.Decode("", s.Keys, cfg)
	return cfg, d.Errors().Err()
}

// DecodeConfigs decodes and validates every Spec; the errors have paths
// processors[i].key.
func DecodeConfigs(specs []Spec) ([]Config, error) {
	var errs errorList
	cfgs := make([]Config, len(specs))
	for i, s := range specs {
		path := fmt.Sprintf("processors[%d]", i)
		cfg, err := s.Decode()
		if err != nil {
			errs.addErr(path, err)
			continue
		}
		if err := cfg.Validate(); err != nil {
			errs.addErr(path, err)
		}
		cfgs[i] = cfg
	}
	return cfgs, errs.err()
}

// validateCommon checks the keys every processor has.
func validateCommon(c *Common, errs *errorList) {
	if c.If != "" {
		validateExpr("if", c.If, true, errs)
	}
}

// validateExpr compiles src alone, for Validate; the chain compiles it
// again with the others.
func validateExpr(key, src string, asBool bool, errs *errorList) {
	if _, err := compileExpr(src, &slotTable{}, asBool); err != nil {
		errs.add(key, err.Error())
	}
}
