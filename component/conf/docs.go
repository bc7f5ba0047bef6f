package conf

import (
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strings"
)

// A reference page documents each Config section in a table under a marker
// line `<!-- keys: NAME -->`, a row per key: | `key` | type | `default` |
// description |. CheckDoc holds such a page and the code in step.

var (
	markerRE = regexp.MustCompile(`^<!-- keys: (.+) -->$`)
	rowRE    = regexp.MustCompile("^\\| `([a-z_.]+)` \\| ([^|]*) \\| `?([^|`]*)`? \\| (.*) \\|$")
)

// DocRow is a key of a section as the code knows it.
type DocRow struct {
	Key, Default string
	Enum         []string
}

// DocRows lists the keys of the sections p points to (embedded structs
// flattened), with the defaults ApplyDefaults gives them.
func DocRows(ps ...any) map[string]DocRow {
	rows := map[string]DocRow{}
	for _, p := range ps {
		rv := reflect.ValueOf(p).Elem()
		applyDefaults(rv)
		fs := map[string]field{}
		fields(rv, fs)
		for k, f := range fs {
			rows[k] = DocRow{Key: k, Default: formatDefault(f.v), Enum: f.enum}
		}
	}
	return rows
}

func formatDefault(v reflect.Value) string {
	switch v.Type() {
	case sizeType:
		if v.Int() == 0 {
			return "0"
		}
		return Size(v.Int()).String()
	case durationType, timeDuration:
		if v.Int() == 0 {
			return "0"
		}
		return Duration(v.Int()).String()
	case modeType:
		return FileMode(v.Uint()).String()
	}
	switch v.Kind() {
	case reflect.String:
		if v.String() == "" {
			return `""`
		}
		return v.String()
	case reflect.Slice:
		if v.Len() == 0 {
			return "[]"
		}
	case reflect.Int, reflect.Int64, reflect.Bool:
		return fmt.Sprint(v.Interface())
	}
	return "—" // a section of its own, or a map
}

// CheckDoc compares a reference page with sections (marker name → the
// Config sections that table documents) and returns every difference: a key
// not documented, a default that differs, an enumeration value not named in
// the description, a documented key or section the code does not have.
// computed lists section.key whose default is computed at load time.
func CheckDoc(doc string, sections map[string][]any, computed map[string]bool) []string {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	documented := map[string]map[string][2]string{} // section -> key -> (default, description)
	section := ""
	for i, line := range strings.Split(doc, "\n") {
		if m := markerRE.FindStringSubmatch(line); m != nil {
			section = m[1]
			if _, dup := documented[section]; dup {
				bad("line %d: section %q twice", i+1, section)
			}
			documented[section] = map[string][2]string{}
			continue
		}
		if strings.HasPrefix(line, "#") {
			section = ""
		}
		if section == "" || !strings.HasPrefix(line, "| `") {
			continue
		}
		m := rowRE.FindStringSubmatch(line)
		if m == nil {
			bad("line %d: row not of the form | `key` | type | default | description |: %s", i+1, line)
			continue
		}
		documented[section][m[1]] = [2]string{strings.TrimSpace(m[3]), m[4]}
	}
	for _, name := range sortedKeys(sections) {
		rows := DocRows(sections[name]...)
		doc, ok := documented[name]
		if !ok {
			bad("section %q is not in the document: add <!-- keys: %s --> and a table:\n%s", name, name, skeleton(rows))
			continue
		}
		for _, k := range sortedKeys(rows) {
			r := rows[k]
			d, ok := doc[k]
			if !ok {
				bad("section %q: key %s is not documented", name, k)
				continue
			}
			if d[0] != r.Default && !computed[name+"."+k] {
				bad("section %q: key %s: document says default %q, code has %q", name, k, d[0], r.Default)
			}
			for _, e := range r.Enum {
				if !strings.Contains(d[1], "`"+e+"`") {
					bad("section %q: key %s: value `%s` is not documented", name, k, e)
				}
			}
		}
		for k := range doc {
			if _, ok := rows[k]; !ok {
				bad("section %q: the document has key %s, the code does not", name, k)
			}
		}
	}
	for name := range documented {
		if _, ok := sections[name]; !ok {
			bad("the document has section %q, the code does not", name)
		}
	}
	sort.Strings(problems)
	return problems
}

func skeleton(rows map[string]DocRow) string {
	var b strings.Builder
	for _, k := range sortedKeys(rows) {
		fmt.Fprintf(&b, "| `%s` | | `%s` | %s |\n", k, rows[k].Default, strings.Join(rows[k].Enum, ", "))
	}
	return b.String()
}
