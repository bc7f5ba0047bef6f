package process

import (
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
)

// decodeInto fills the struct dst points to from m, by the fields' koanf
// tags; a ",squash" field's keys are the struct's own. Every problem is
// recorded with its key path (relative to path): unknown keys (with the
// closest known one), values of the wrong type. Values given as strings
// (environment overrides) are accepted for numbers and booleans.
func decodeInto(path string, m map[string]any, dst any, errs *errorList) {
	v := reflect.ValueOf(dst).Elem()
	fields := map[string]reflect.Value{}
	collectFields(v, fields)
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fv, ok := fields[k]
		if !ok {
			msg := "unknown key"
			if s := closest(k, fieldNames(fields)); s != "" {
				msg += fmt.Sprintf(" (did you mean %s?)", s)
			}
			errs.add(joinPath(path, k), msg)
			continue
		}
		decodeValue(joinPath(path, k), m[k], fv, errs)
	}
}

func collectFields(v reflect.Value, into map[string]reflect.Value) {
	t := v.Type()
	for i := range t.NumField() {
		tag := t.Field(i).Tag.Get("koanf")
		name, opt, _ := strings.Cut(tag, ",")
		switch {
		case opt == "squash":
			collectFields(v.Field(i), into)
		case name != "" && name != "-":
			into[name] = v.Field(i)
		}
	}
}

func fieldNames(m map[string]reflect.Value) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func decodeValue(path string, raw any, v reflect.Value, errs *errorList) {
	if raw == nil {
		return // "key:" with no value leaves the default
	}
	switch v.Kind() {
	case reflect.String:
		switch x := raw.(type) {
		case string:
			v.SetString(x)
		case int, int64, uint64, float64, bool:
			v.SetString(fmt.Sprint(x)) // a YAML scalar such as a stream named 2024
		default:
			errs.add(path, "want a string, got "+describe(raw))
		}
	case reflect.Bool:
		switch x := raw.(type) {
		case bool:
			v.SetBool(x)
		case string:
			b, err := strconv.ParseBool(x)
			if err != nil {
				errs.add(path, fmt.Sprintf("want true or false, got %q", x))
				return
			}
			v.SetBool(b)
		default:
			errs.add(path, "want true or false, got "+describe(raw))
		}
	case reflect.Int, reflect.Int64:
		n, ok := toInt(raw)
		if !ok {
			errs.add(path, "want an integer, got "+describe(raw))
			return
		}
		v.SetInt(n)
	case reflect.Float64:
		f, ok := toFloat(raw)
		if !ok {
			errs.add(path, "want a number, got "+describe(raw))
			return
		}
		v.SetFloat(f)
	case reflect.Slice:
		list, ok := raw.([]any)
		if !ok {
			if s, isStr := raw.(string); isStr && v.Type().Elem().Kind() == reflect.String {
				list = []any{s} // a single name where a list is expected
			} else {
				errs.add(path, "want a list, got "+describe(raw))
				return
			}
		}
		out := reflect.MakeSlice(v.Type(), len(list), len(list))
		for i, item := range list {
			decodeValue(fmt.Sprintf("%s[%d]", path, i), item, out.Index(i), errs)
		}
		v.Set(out)
	case reflect.Map:
		mm, ok := asMap(raw)
		if !ok {
			errs.add(path, "want a map, got "+describe(raw))
			return
		}
		out := reflect.MakeMapWithSize(v.Type(), len(mm))
		for k, item := range mm {
			ev := reflect.New(v.Type().Elem()).Elem()
			decodeValue(joinPath(path, k), item, ev, errs)
			out.SetMapIndex(reflect.ValueOf(k), ev)
		}
		v.Set(out)
	case reflect.Struct:
		mm, ok := asMap(raw)
		if !ok {
			errs.add(path, "want a map of keys, got "+describe(raw))
			return
		}
		decodeInto(path, mm, v.Addr().Interface(), errs)
	default:
		errs.add(path, fmt.Sprintf("cannot decode into %s", v.Type()))
	}
}

// asMap accepts the maps YAML and koanf produce.
func asMap(raw any) (map[string]any, bool) {
	switch m := raw.(type) {
	case map[string]any:
		return m, true
	case map[any]any:
		out := make(map[string]any, len(m))
		for k, v := range m {
			out[fmt.Sprint(k)] = v
		}
		return out, true
	}
	return nil, false
}

func toInt(raw any) (int64, bool) {
	switch x := raw.(type) {
	case int:
		return int64(x), true
	case int64:
		return x, true
	case uint64:
		if x > math.MaxInt64 {
			return 0, false
		}
		return int64(x), true
	case float64:
		if x != math.Trunc(x) || math.Abs(x) > 1<<53 {
			return 0, false
		}
		return int64(x), true
	case string:
		n, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64)
		return n, err == nil
	}
	return 0, false
}

func toFloat(raw any) (float64, bool) {
	switch x := raw.(type) {
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case uint64:
		return float64(x), true
	case float64:
		return x, true
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		return f, err == nil && !math.IsNaN(f) && !math.IsInf(f, 0)
	}
	return 0, false
}

func describe(raw any) string {
	switch x := raw.(type) {
	case string:
		return fmt.Sprintf("string %q", x)
	case []any:
		return "a list"
	case map[string]any, map[any]any:
		return "a map"
	}
	return fmt.Sprintf("%T %v", raw, raw)
}

// closest returns the candidate close enough to s to be a typo of it:
// within 2 edits, and fewer than half of s's length.
func closest(s string, candidates []string) string {
	best, bestD := "", min(3, (len(s)+1)/2)
	for _, c := range candidates {
		if d := editDistance(s, c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
