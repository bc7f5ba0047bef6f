package config

import (
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
)

// The decoder turns the merged key tree into the structs, collecting every
// problem with its key path instead of stopping at the first.
type decoder struct {
	errs   Errors
	origin map[string]string // key path -> where a value came from, if not the file
	lines  map[string]int    // key path -> line in the file
}

func (d *decoder) fail(path, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if o, ok := d.origin[path]; ok {
		msg += " (set by " + o + ")"
	} else if l := lineOf(d.lines, path); l > 0 {
		msg += fmt.Sprintf(" (line %d)", l)
	}
	d.errs = append(d.errs, FieldError{Path: path, Msg: msg})
}

func (d *decoder) has(path string) bool {
	for _, e := range d.errs {
		if e.Path == path {
			return true
		}
	}
	return false
}

var (
	sizeType     = reflect.TypeFor[Size]()
	durationType = reflect.TypeFor[Duration]()
	modeType     = reflect.TypeFor[FileMode]()
)

type defaulter interface{ defaults() }

func reflectValue(p any) reflect.Value { return reflect.ValueOf(p).Elem() }

// applyDefaults sets the defaults of v and of the structs it embeds or holds
// by value; pointers and maps stay empty until a key fills them.
func applyDefaults(v reflect.Value) {
	if v.Kind() != reflect.Struct {
		return
	}
	for i := 0; i < v.NumField(); i++ {
		if v.Type().Field(i).IsExported() {
			applyDefaults(v.Field(i))
		}
	}
	if d, ok := v.Addr().Interface().(defaulter); ok {
		d.defaults()
	}
}

// field is a key of a struct, squashed embedded structs flattened.
type field struct {
	v    reflect.Value
	enum []string
}

func fields(v reflect.Value, into map[string]field) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		tag := sf.Tag.Get("koanf")
		if !sf.IsExported() || tag == "-" {
			continue
		}
		if tag == ",squash" {
			fields(v.Field(i), into)
			continue
		}
		f := field{v: v.Field(i)}
		if e := sf.Tag.Get("enum"); e != "" {
			f.enum = strings.Split(e, ",")
		}
		into[tag] = f
	}
}

// union is a struct whose keys depend on its type key (inputs, outputs).
type union interface {
	kind() string
	typeKey() string
	settings(typ string) (any, bool)
	types() []string
}

func (in *Input) kind() string    { return "input" }
func (in *Input) typeKey() string { return in.Type }
func (in *Input) types() []string { return InputTypes() }
func (in *Input) settings(typ string) (any, bool) {
	mk, ok := inputTypes[typ]
	if !ok {
		return nil, false
	}
	return mk(in), true
}

func (o *Output) kind() string    { return "output" }
func (o *Output) typeKey() string { return o.Type }
func (o *Output) types() []string { return OutputTypes() }
func (o *Output) settings(typ string) (any, bool) {
	mk, ok := outputTypes[typ]
	if !ok {
		return nil, false
	}
	return mk(o), true
}

func (d *decoder) decodeStruct(path string, raw any, v reflect.Value) {
	m, ok := raw.(map[string]any)
	if !ok {
		d.fail(path, "expected a mapping of keys, got %s", describe(raw))
		return
	}
	keys := map[string]field{}
	fields(v, keys)
	u, isUnion := v.Addr().Interface().(union)
	if isUnion {
		if t, ok := m["type"]; ok {
			d.decodeValue(join(path, "type"), t, keys["type"])
		}
		typ := u.typeKey()
		switch s, ok := u.settings(typ); {
		case typ == "":
			d.fail(join(path, "type"), "missing: every %s needs a type (one of %s)", u.kind(), strings.Join(u.types(), ", "))
			return // its other keys cannot be checked without a type
		case !ok:
			msg := fmt.Sprintf("unknown %s type %q (expected one of %s)", u.kind(), typ, strings.Join(u.types(), ", "))
			if s := suggest(typ, u.types()); s != "" {
				msg += fmt.Sprintf("; did you mean %q?", s)
			}
			d.fail(join(path, "type"), "%s", msg)
			return
		default:
			sv := reflect.ValueOf(s).Elem()
			applyDefaults(sv)
			fields(sv, keys)
		}
	}
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		p := join(path, k)
		f, ok := keys[k]
		switch {
		case k == "type" && isUnion:
			continue // decoded above
		case !ok:
			d.fail(p, "%s", unknownKey(k, keys))
			continue
		}
		d.decodeValue(p, m[k], f)
	}
}

func unknownKey(k string, keys map[string]field) string {
	known := sortedKeys(keys)
	if s := suggest(k, known); s != "" {
		return fmt.Sprintf("unknown key; did you mean %q?", s)
	}
	return fmt.Sprintf("unknown key (expected one of %s)", strings.Join(known, ", "))
}

func (d *decoder) decodeValue(path string, raw any, f field) {
	if raw == nil {
		return // `key:` with no value keeps the default
	}
	v := f.v
	switch v.Type() {
	case sizeType:
		s, err := toSize(raw)
		if err != nil {
			d.fail(path, "%v", err)
			return
		}
		if s < 0 {
			d.fail(path, "must not be negative")
			return
		}
		v.SetInt(int64(s))
		return
	case durationType:
		var dur Duration
		var err error
		switch x := raw.(type) {
		case string:
			dur, err = ParseDuration(x)
		case int, int64, uint64:
			if toInt(x) != 0 {
				err = fmt.Errorf("%v has no unit (write e.g. 500ms, 5s, 1m)", x)
			}
		default:
			err = fmt.Errorf("expected a duration like 5s, got %s", describe(raw))
		}
		if err == nil && dur < 0 {
			err = fmt.Errorf("must not be negative")
		}
		if err != nil {
			d.fail(path, "%v", err)
			return
		}
		v.SetInt(int64(dur))
		return
	case modeType:
		var m FileMode
		var err error
		switch x := raw.(type) {
		case string:
			m, err = ParseFileMode(x)
		case int:
			// YAML reads an unquoted 0660 as the octal number it means.
			if x < 0 || x > 0o777 {
				err = fmt.Errorf("%d is not a file mode (quote it: \"0660\")", x)
			}
			m = FileMode(x)
		default:
			err = fmt.Errorf("expected an octal file mode like \"0660\", got %s", describe(raw))
		}
		if err != nil {
			d.fail(path, "%v", err)
			return
		}
		v.SetUint(uint64(m))
		return
	}
	switch v.Kind() {
	case reflect.String:
		s, ok := scalarString(raw)
		if !ok {
			d.fail(path, "expected a string, got %s", describe(raw))
			return
		}
		if f.enum != nil && !contains(f.enum, s) {
			d.fail(path, "%q is not one of %s", s, strings.Join(f.enum, ", "))
			return
		}
		v.SetString(s)
	case reflect.Int:
		n, ok := intValue(raw)
		if !ok {
			d.fail(path, "expected an integer, got %s", describe(raw))
			return
		}
		v.SetInt(n)
	case reflect.Bool:
		switch x := raw.(type) {
		case bool:
			v.SetBool(x)
		case string:
			b, err := strconv.ParseBool(x)
			if err != nil {
				d.fail(path, "expected true or false, got %q", x)
				return
			}
			v.SetBool(b)
		default:
			d.fail(path, "expected true or false, got %s", describe(raw))
		}
	case reflect.Slice:
		d.decodeStrings(path, raw, v)
	case reflect.Struct:
		d.decodeStruct(path, raw, v)
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
			applyDefaults(v.Elem())
		}
		d.decodeStruct(path, raw, v.Elem())
	case reflect.Map:
		d.decodeMap(path, raw, v)
	default:
		panic(fmt.Sprintf("config: no decoder for %s at %s", v.Type(), path))
	}
}

func (d *decoder) decodeStrings(path string, raw any, v reflect.Value) {
	var out []string
	switch x := raw.(type) {
	case []any:
		for i, e := range x {
			s, ok := scalarString(e)
			if !ok {
				d.fail(fmt.Sprintf("%s[%d]", path, i), "expected a string, got %s", describe(e))
				continue
			}
			out = append(out, s)
		}
	case string:
		if _, fromEnv := d.origin[path]; fromEnv {
			// Environment variables and flags write lists comma-separated.
			for _, s := range strings.Split(x, ",") {
				if s = strings.TrimSpace(s); s != "" {
					out = append(out, s)
				}
			}
		} else {
			out = []string{x}
		}
	default:
		d.fail(path, "expected a list of strings, got %s", describe(raw))
		return
	}
	v.Set(reflect.ValueOf(out))
}

func (d *decoder) decodeMap(path string, raw any, v reflect.Value) {
	m, ok := raw.(map[string]any)
	if !ok {
		d.fail(path, "expected a mapping of names, got %s", describe(raw))
		return
	}
	if v.IsNil() {
		v.Set(reflect.MakeMap(v.Type()))
	}
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	et := v.Type().Elem()
	for _, name := range names {
		p := join(path, name)
		if !validName(name) {
			d.fail(p, "a name may hold only letters, digits, _ and - (and start with a letter or digit)")
			continue
		}
		raw := m[name]
		if raw == nil {
			raw = map[string]any{} // `name:` alone: all defaults, and any required key missing
		}
		var ev reflect.Value
		if et.Kind() == reflect.Pointer {
			ev = reflect.New(et.Elem())
			applyDefaults(ev.Elem())
			d.decodeStruct(p, raw, ev.Elem())
		} else {
			ev = reflect.New(et).Elem()
			applyDefaults(ev)
			d.decodeStruct(p, raw, ev)
		}
		v.SetMapIndex(reflect.ValueOf(name), ev)
	}
}

func toSize(raw any) (Size, error) {
	switch x := raw.(type) {
	case string:
		return ParseSize(x)
	case int, int64, uint64:
		return Size(toInt(x)), nil
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<62 {
			return Size(x), nil
		}
	}
	return 0, fmt.Errorf("expected a size like 64MiB, got %s", describe(raw))
}

func toInt(x any) int64 {
	switch n := x.(type) {
	case int:
		return int64(n)
	case int64:
		return n
	case uint64:
		if n > math.MaxInt64 {
			return math.MaxInt64
		}
		return int64(n)
	}
	return 0
}

func intValue(raw any) (int64, bool) {
	switch x := raw.(type) {
	case int, int64, uint64:
		return toInt(x), true
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return int64(x), true
		}
	case string:
		n, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64)
		return n, err == nil
	}
	return 0, false
}

// scalarString accepts what YAML may have typed for a string key: min_version:
// 1.2 is a float to YAML and "1.2" to us.
func scalarString(raw any) (string, bool) {
	switch x := raw.(type) {
	case string:
		return x, true
	case int, int64, uint64:
		return strconv.FormatInt(toInt(x), 10), true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	case bool:
		return strconv.FormatBool(x), true
	}
	return "", false
}

func describe(raw any) string {
	switch x := raw.(type) {
	case map[string]any:
		return "a mapping"
	case []any:
		return "a list"
	case string:
		return fmt.Sprintf("%q", x)
	case nil:
		return "nothing"
	default:
		return fmt.Sprintf("%v", x)
	}
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}
