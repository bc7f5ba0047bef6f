package conf

import (
	"fmt"
	"maps"
	"math"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Decoder turns a merged key tree (Tree.Raw) into Config structs, collecting
// every problem with its key path instead of stopping at the first. Struct
// fields name their keys with `koanf` tags (`,squash` flattens an embedded
// struct, `-` skips a field); `enum:"a,b"` lists the values a string key
// accepts. Pointers to structs stay nil until a key fills them, and are then
// made with their defaults (SetDefaults).
type Decoder struct {
	errs   Errors
	origin map[string]string // key path -> where a value came from, if not the file
	lines  map[string]int    // key path -> line in the file
	hooks  map[reflect.Type]Hook
}

// Hook decodes values of one type itself (the agent decodes an input's keys
// with the Config its type's factory makes). v is settable.
type Hook func(d *Decoder, path string, raw any, v reflect.Value)

// NewDecoder makes a decoder for a tree; its problems name lines of the file
// and the variables or flags that set values.
func NewDecoder(t *Tree) *Decoder {
	d := &Decoder{hooks: map[reflect.Type]Hook{}}
	if t != nil {
		d.origin, d.lines, d.errs = t.Origin, t.Lines, append(Errors(nil), t.errs...)
	}
	return d
}

// Hook makes the decoder call h for every value of type typ.
func (d *Decoder) Hook(typ reflect.Type, h Hook) { d.hooks[typ] = h }

// Fail records a problem at path, adding the file line or what set the value.
func (d *Decoder) Fail(path, format string, args ...any) {
	d.errs = append(d.errs, FieldError{Path: path, Msg: d.where(path, fmt.Sprintf(format, args...))})
}

// Warning is a warning about the key at path, as an error would be
// printed: "path: msg (line N)".
func (d *Decoder) Warning(path, msg string) string { return path + ": " + d.where(path, msg) }

func (d *Decoder) where(path, msg string) string {
	if o, ok := d.origin[path]; ok {
		return msg + " (set by " + o + ")"
	}
	if l := LineOf(d.lines, path); l > 0 {
		return msg + fmt.Sprintf(" (line %d)", l)
	}
	return msg
}

// Merge records the problems of err (a component's Validate) under prefix,
// each with its file line.
func (d *Decoder) Merge(prefix string, err error) {
	var e Errors
	e.Merge(prefix, err)
	for _, f := range e {
		d.errs = append(d.errs, FieldError{Path: f.Path, Msg: d.where(f.Path, f.Msg)})
	}
}

// Has reports whether a problem of path was recorded.
func (d *Decoder) Has(path string) bool { return d.errs.Has(path) }

// Errors are the problems recorded so far, sorted by key path.
func (d *Decoder) Errors() Errors { return append(Errors(nil), d.errs...).Sorted() }

var (
	sizeType     = reflect.TypeFor[Size]()
	durationType = reflect.TypeFor[Duration]()
	timeDuration = reflect.TypeFor[time.Duration]()
	modeType     = reflect.TypeFor[FileMode]()
)

// Defaulter is a Config section that sets its own defaults.
type Defaulter interface{ SetDefaults() }

// ApplyDefaults sets the defaults of the struct p points to and of the
// structs it embeds or holds by value (inner ones first, so an outer
// SetDefaults may override them); pointers and maps stay empty until a key
// fills them.
func ApplyDefaults(p any) { applyDefaults(reflect.ValueOf(p).Elem()) }

// Defaults is a new T with its defaults applied: a factory's NewConfig.
func Defaults[T any]() *T {
	c := new(T)
	ApplyDefaults(c)
	return c
}

func applyDefaults(v reflect.Value) {
	if v.Kind() != reflect.Struct {
		return
	}
	for i := 0; i < v.NumField(); i++ {
		if v.Type().Field(i).IsExported() {
			applyDefaults(v.Field(i))
		}
	}
	if d, ok := v.Addr().Interface().(Defaulter); ok {
		d.SetDefaults()
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

// Decode decodes the mapping raw at path into the structs targets point to,
// as one set of keys: a key belongs to the first target that has it, and a
// key none has is reported with the keys all of them have.
func (d *Decoder) Decode(path string, raw any, targets ...any) {
	vs := make([]reflect.Value, len(targets))
	for i, t := range targets {
		vs[i] = reflect.ValueOf(t).Elem()
	}
	d.decodeStruct(path, raw, vs...)
}

// Keys lists the keys of the structs targets point to, as Decode sees them.
func Keys(targets ...any) []string {
	keys := map[string]field{}
	for i := len(targets) - 1; i >= 0; i-- {
		fields(reflect.ValueOf(targets[i]).Elem(), keys)
	}
	return sortedKeys(keys)
}

func (d *Decoder) decodeStruct(path string, raw any, vs ...reflect.Value) {
	m, ok := raw.(map[string]any)
	if !ok {
		d.Fail(path, "expected a mapping of keys, got %s", describe(raw))
		return
	}
	keys := map[string]field{}
	for i := len(vs) - 1; i >= 0; i-- {
		fields(vs[i], keys)
	}
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		p := Join(path, k)
		f, ok := keys[k]
		if !ok {
			d.Fail(p, "%s", unknownKey(k, keys))
			continue
		}
		d.decodeValue(p, m[k], f)
	}
}

func unknownKey(k string, keys map[string]field) string {
	known := sortedKeys(keys)
	if s := Suggest(k, known); s != "" {
		return fmt.Sprintf("unknown key; did you mean %q?", s)
	}
	return fmt.Sprintf("unknown key (expected one of %s)", strings.Join(known, ", "))
}

func (d *Decoder) decodeValue(path string, raw any, f field) {
	if raw == nil {
		return // `key:` with no value keeps the default
	}
	v := f.v
	if h, ok := d.hooks[v.Type()]; ok {
		h(d, path, raw, v)
		return
	}
	switch v.Type() {
	case sizeType:
		s, err := toSize(raw)
		if err != nil {
			d.Fail(path, "%v", err)
			return
		}
		if s < 0 {
			d.Fail(path, "must not be negative")
			return
		}
		v.SetInt(int64(s))
		return
	case durationType, timeDuration:
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
			d.Fail(path, "%v", err)
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
			d.Fail(path, "%v", err)
			return
		}
		v.SetUint(uint64(m))
		return
	}
	switch v.Kind() {
	case reflect.String:
		s, ok := scalarString(raw)
		if !ok {
			d.Fail(path, "expected a string, got %s", describe(raw))
			return
		}
		if f.enum != nil && !contains(f.enum, s) {
			d.Fail(path, "%q is not one of %s", s, strings.Join(f.enum, ", "))
			return
		}
		v.SetString(s)
	case reflect.Int, reflect.Int64:
		n, ok := intValue(raw)
		if !ok {
			d.Fail(path, "expected an integer, got %s", describe(raw))
			return
		}
		v.SetInt(n)
	case reflect.Float64:
		var f float64
		switch x := raw.(type) {
		case float64:
			f = x
		case int, int64, uint64:
			f = float64(toInt(x))
		case string:
			var err error
			if f, err = strconv.ParseFloat(strings.TrimSpace(x), 64); err != nil {
				d.Fail(path, "expected a number, got %q", x)
				return
			}
		default:
			d.Fail(path, "expected a number, got %s", describe(raw))
			return
		}
		v.SetFloat(f)
	case reflect.Bool:
		switch x := raw.(type) {
		case bool:
			v.SetBool(x)
		case string:
			b, err := strconv.ParseBool(x)
			if err != nil {
				d.Fail(path, "expected true or false, got %q", x)
				return
			}
			v.SetBool(b)
		default:
			d.Fail(path, "expected true or false, got %s", describe(raw))
		}
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.String {
			d.decodeStrings(path, raw, v)
		} else {
			d.decodeList(path, raw, v)
		}
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

func (d *Decoder) decodeStrings(path string, raw any, v reflect.Value) {
	var out []string
	switch x := raw.(type) {
	case []any:
		for i, e := range x {
			s, ok := scalarString(e)
			if !ok {
				d.Fail(fmt.Sprintf("%s[%d]", path, i), "expected a string, got %s", describe(e))
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
		d.Fail(path, "expected a list of strings, got %s", describe(raw))
		return
	}
	v.Set(reflect.ValueOf(out))
}

// decodeList decodes a list of sections (or of values a hook decodes).
func (d *Decoder) decodeList(path string, raw any, v reflect.Value) {
	items, ok := raw.([]any)
	if !ok {
		d.Fail(path, "expected a list, got %s", describe(raw))
		return
	}
	et := v.Type().Elem()
	out := reflect.MakeSlice(v.Type(), len(items), len(items))
	for i, item := range items {
		p := Index(path, i)
		ev := out.Index(i)
		if h, ok := d.hooks[et]; ok {
			h(d, p, item, ev)
			continue
		}
		switch et.Kind() {
		case reflect.Pointer:
			ev.Set(reflect.New(et.Elem()))
			applyDefaults(ev.Elem())
			d.decodeStruct(p, item, ev.Elem())
		case reflect.Struct:
			applyDefaults(ev)
			d.decodeStruct(p, item, ev)
		default:
			d.decodeValue(p, item, field{v: ev})
		}
	}
	v.Set(out)
}

// decodeStringMap decodes a mapping of names to strings (static attributes).
func (d *Decoder) decodeStringMap(path string, m map[string]any, v reflect.Value) {
	if v.IsNil() {
		v.Set(reflect.MakeMap(v.Type()))
	}
	for _, k := range sortedKeys(m) {
		s, ok := scalarString(m[k])
		if !ok {
			d.Fail(Join(path, k), "expected a string, got %s", describe(m[k]))
			continue
		}
		v.SetMapIndex(reflect.ValueOf(k), reflect.ValueOf(s))
	}
}

func (d *Decoder) decodeMap(path string, raw any, v reflect.Value) {
	m, ok := raw.(map[string]any)
	if !ok {
		d.Fail(path, "expected a mapping of names, got %s", describe(raw))
		return
	}
	if v.Type().Elem().Kind() == reflect.String {
		d.decodeStringMap(path, m, v)
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
		p := Join(path, name)
		if !ValidName(name) {
			d.Fail(p, "a name may hold only letters, digits, _ and - (and start with a letter or digit)")
			continue
		}
		raw := m[name]
		if raw == nil {
			raw = map[string]any{} // `name:` alone: all defaults, and any required key missing
		}
		var ev reflect.Value
		if h, ok := d.hooks[et]; ok {
			ev = reflect.New(et).Elem()
			h(d, p, raw, ev)
		} else if et.Kind() == reflect.Pointer {
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

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}
