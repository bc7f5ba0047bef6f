package agent

import (
	"reflect"
	"strings"
	"sync/atomic"
	"unicode"
)

// Metric is one value a component reports. The agent exposes it as
// capstan_<input|output>_<Name> with the labels input|output=<name> and
// type=<type>, plus Labels. A name's label keys must not change between scrapes.
type Metric struct {
	Name   string // snake_case; counters end in _total
	Help   string
	Value  float64
	Gauge  bool // otherwise a counter
	Labels map[string]string
}

// StatsMetrics turns a stats struct (numbers or sync/atomic values, by value
// or pointer) into metrics: each exported numeric field becomes a counter
// named after it in snake_case with _total added (RecordsIn ->
// records_in_total), or a gauge, without suffix, when its name is listed in
// gauges. Components whose Stats() returns such a struct can implement
// MetricSource in one line: return agent.StatsMetrics(c.Stats(), "Connections").
func StatsMetrics(stats any, gauges ...string) []Metric {
	v := reflect.ValueOf(stats)
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return nil
	}
	var out []Metric
	for i := 0; i < v.NumField(); i++ {
		sf := v.Type().Field(i)
		if !sf.IsExported() {
			continue
		}
		val, ok := number(v.Field(i))
		if !ok {
			continue
		}
		m := Metric{Name: snake(sf.Name), Value: val}
		if contains(gauges, sf.Name) {
			m.Gauge = true
		} else if !strings.HasSuffix(m.Name, "_total") {
			m.Name += "_total"
		}
		out = append(out, m)
	}
	return out
}

func number(f reflect.Value) (float64, bool) {
	switch f.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return float64(f.Int()), true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return float64(f.Uint()), true
	case reflect.Float32, reflect.Float64:
		return f.Float(), true
	}
	if !f.CanAddr() {
		// An atomic held by value in a copied struct: read it from a copy.
		c := reflect.New(f.Type()).Elem()
		c.Set(f)
		f = c
	}
	switch a := f.Addr().Interface().(type) {
	case *atomic.Int64:
		return float64(a.Load()), true
	case *atomic.Uint64:
		return float64(a.Load()), true
	case *atomic.Int32:
		return float64(a.Load()), true
	case *atomic.Uint32:
		return float64(a.Load()), true
	}
	return 0, false
}

// snake turns RecordsIn into records_in and UDPDrops into udp_drops.
func snake(s string) string {
	var b strings.Builder
	r := []rune(s)
	for i, c := range r {
		if unicode.IsUpper(c) {
			if i > 0 && (unicode.IsLower(r[i-1]) || i+1 < len(r) && unicode.IsLower(r[i+1])) {
				b.WriteByte('_')
			}
			c = unicode.ToLower(c)
		}
		b.WriteRune(c)
	}
	return b.String()
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}
