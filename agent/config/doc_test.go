package config

import (
	"fmt"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// docSections are the tables of docs/configuration.md, each documenting the
// keys of one struct (embedded structs flattened), defaults applied.
func docSections() map[string]any {
	return map[string]any{
		"top":             &Config{},
		"log":             &Log{},
		"http":            &HTTP{},
		"spool":           &Spool{},
		"streams":         &Stream{},
		"inputs":          &Input{},
		"input file":      &FileInput{},
		"input multiline": &Multiline{},
		"input tcp":       &TCPInput{},
		"input udp":       &UDPInput{},
		"input unix":      &UnixInput{},
		"input unixgram":  &UnixgramInput{},
		"input forward":   &ForwardInput{},
		"input tls":       &ServerTLS{},
		"outputs":         &Output{},
		"output forward":  &ForwardOutput{},
		"output stdout":   &StdoutOutput{},
		"output file":     &FileOutput{},
		"output tcp":      &TCPOutput{},
		"output tls":      &ClientTLS{},
		"output backoff":  &Backoff{},
	}
}

// computedDefault are keys whose default the code computes at load time.
var computedDefault = map[string]bool{"top.data_dir": true}

type docRow struct {
	key, def string
	enum     []string
}

func rowsOf(v any) map[string]docRow {
	rv := reflect.ValueOf(v).Elem()
	applyDefaults(rv)
	fs := map[string]field{}
	fields(rv, fs)
	rows := map[string]docRow{}
	for k, f := range fs {
		rows[k] = docRow{key: k, def: formatDefault(f.v), enum: f.enum}
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
	case durationType:
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
	case reflect.Int, reflect.Bool:
		return fmt.Sprint(v.Interface())
	}
	return "—" // a section of its own
}

var (
	markerRE = regexp.MustCompile(`^<!-- keys: (.+) -->$`)
	rowRE    = regexp.MustCompile("^\\| `([a-z_]+)` \\| ([^|]*) \\| `?([^|`]*)`? \\| (.*) \\|$")
)

// TestDocInStep keeps docs/configuration.md in step with the structs: every
// key of every section is documented with its default and, for enumerations,
// every value; and the document lists no key the code does not know.
func TestDocInStep(t *testing.T) {
	b, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := map[string]map[string][2]string{} // section -> key -> (default, description)
	section := ""
	for i, line := range strings.Split(string(b), "\n") {
		if m := markerRE.FindStringSubmatch(line); m != nil {
			section = m[1]
			if _, dup := doc[section]; dup {
				t.Errorf("line %d: section %q twice", i+1, section)
			}
			doc[section] = map[string][2]string{}
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
			t.Errorf("line %d: row not of the form | `key` | type | default | description |: %s", i+1, line)
			continue
		}
		doc[section][m[1]] = [2]string{strings.TrimSpace(m[3]), m[4]}
	}
	code := docSections()
	for _, name := range sortedKeys(code) {
		rows := rowsOf(code[name])
		documented, ok := doc[name]
		if !ok {
			t.Errorf("section %q (%T) is not in the document: add <!-- keys: %s --> and a table", name, code[name], name)
			printSkeleton(t, rows)
			continue
		}
		for _, k := range sortedKeys(rows) {
			r := rows[k]
			d, ok := documented[k]
			if !ok {
				t.Errorf("section %q: key %s is not documented", name, k)
				continue
			}
			if d[0] != r.def && !computedDefault[name+"."+k] {
				t.Errorf("section %q: key %s: document says default %q, code has %q", name, k, d[0], r.def)
			}
			for _, e := range r.enum {
				if !strings.Contains(d[1], "`"+e+"`") {
					t.Errorf("section %q: key %s: value `%s` is not documented", name, k, e)
				}
			}
		}
		for k := range documented {
			if _, ok := rows[k]; !ok {
				t.Errorf("section %q: the document has key %s, the code does not", name, k)
			}
		}
	}
	for name := range doc {
		if _, ok := code[name]; !ok {
			t.Errorf("the document has section %q, the code does not", name)
		}
	}
}

func printSkeleton(t *testing.T, rows map[string]docRow) {
	keys := make([]string, 0, len(rows))
	for k := range rows {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		t.Logf("| `%s` | | `%s` | %s |", k, rows[k].def, strings.Join(rows[k].enum, ", "))
	}
}
