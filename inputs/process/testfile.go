package process

import (
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// TestFile is a file of processor unit tests, which `capstan test` checks:
// lines go through a chain and each result is compared with what is
// expected. docs/processors.md describes the format.
type TestFile struct {
	Tests []TestCase `yaml:"tests"`
}

// TestCase is one test: a chain (an input of the configuration, or a
// processors list of its own), the lines, and one expectation per line.
type TestCase struct {
	Name string `yaml:"name"`
	// Input names an input of the configuration whose chain is tested.
	Input string `yaml:"input"`
	// Processors is a chain of the test's own, instead of Input's.
	Processors any `yaml:"processors"`
	// Streams are the streams the test's own chain may route to.
	Streams []string `yaml:"streams"`
	// Fields are the record fields the input sets (static check), for the
	// test's own chain.
	InputFields []string          `yaml:"input_fields"`
	Source      map[string]string `yaml:"source"`
	Stream      string            `yaml:"stream"`
	// Time is each line's arrival time (RFC 3339); by default
	// 1970-01-01T00:00:00Z.
	Time   string     `yaml:"time"`
	Lines  []string   `yaml:"lines"`
	Expect []Expected `yaml:"expect"`
}

// Expected is what one line must become. Parts left out are not compared;
// Fields, when given, must be all of the record's fields.
type Expected struct {
	Dropped string         `yaml:"dropped"`
	Body    *string        `yaml:"body"`
	Time    string         `yaml:"time"`
	Stream  string         `yaml:"stream"`
	Fields  map[string]any `yaml:"fields"`
}

// LoadTests reads a test file; unknown keys are errors.
func LoadTests(r io.Reader) (TestFile, error) {
	var tf TestFile
	dec := yaml.NewDecoder(r)
	dec.KnownFields(true)
	if err := dec.Decode(&tf); err != nil {
		return tf, fmt.Errorf("read tests: %w", err)
	}
	for i, tc := range tf.Tests {
		switch {
		case tc.Input == "" && tc.Processors == nil:
			return tf, fmt.Errorf("tests[%d] (%s): needs input or processors", i, tc.Name)
		case tc.Input != "" && tc.Processors != nil:
			return tf, fmt.Errorf("tests[%d] (%s): set either input or processors", i, tc.Name)
		case len(tc.Lines) != len(tc.Expect):
			return tf, fmt.Errorf("tests[%d] (%s): %d lines but %d expectations: give one per line", i, tc.Name, len(tc.Lines), len(tc.Expect))
		}
	}
	return tf, nil
}

// ChainResolver returns the chain of a configuration's input, for tests
// that name one.
type ChainResolver func(input string) (*Chain, error)

// TestReport is the outcome of RunTests.
type TestReport struct {
	Passed int
	// Failures has one message per failed test, naming it and listing
	// every difference.
	Failures []string
}

// RunTests runs every test; resolve may be nil when no test names an
// input.
func RunTests(tf TestFile, resolve ChainResolver) TestReport {
	var rep TestReport
	for i, tc := range tf.Tests {
		name := tc.Name
		if name == "" {
			name = fmt.Sprintf("tests[%d]", i)
		}
		if diffs := runTest(tc, resolve); len(diffs) > 0 {
			rep.Failures = append(rep.Failures, "FAIL "+name+"\n  "+strings.Join(diffs, "\n  "))
		} else {
			rep.Passed++
		}
	}
	return rep
}

func runTest(tc TestCase, resolve ChainResolver) []string {
	c, err := testChain(tc, resolve)
	if err != nil {
		return []string{strings.ReplaceAll(err.Error(), "\n", "\n  ")}
	}
	var arrival int64
	if tc.Time != "" {
		t, err := time.Parse(time.RFC3339Nano, tc.Time)
		if err != nil {
			return []string{fmt.Sprintf("time %q: want RFC 3339", tc.Time)}
		}
		arrival = t.UnixNano()
	}
	var source []Field
	keys := make([]string, 0, len(tc.Source))
	for k := range tc.Source {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		source = append(source, Field{Key: []byte(k), Value: []byte(tc.Source[k])})
	}
	stream := tc.Stream
	if stream == "" {
		stream = "default"
	}
	rn := c.NewRunner()
	defer rn.Flush()
	var diffs []string
	var r Record
	for i, line := range tc.Lines {
		r.Reset(arrival, []byte(line), source, stream)
		res := rn.Process(&r)
		for _, d := range compare(&r, res, tc.Expect[i]) {
			diffs = append(diffs, fmt.Sprintf("line %d: %s", i+1, d))
		}
	}
	return diffs
}

func testChain(tc TestCase, resolve ChainResolver) (*Chain, error) {
	if tc.Input != "" {
		if resolve == nil {
			return nil, fmt.Errorf("input %q: no configuration to take it from", tc.Input)
		}
		return resolve(tc.Input)
	}
	specs, err := DecodeSpecs(tc.Processors)
	if err != nil {
		return nil, err
	}
	return New(specs, Options{Streams: tc.Streams, InputFields: tc.InputFields})
}

// compare lists the differences between a result and its expectation.
func compare(r *Record, res Result, want Expected) []string {
	var diffs []string
	got := "kept"
	if !res.Kept() {
		got = "dropped by processors[" + fmt.Sprint(res.Processor) + "]: " + res.Reason.String()
	}
	if want.Dropped != "" || !res.Kept() {
		if want.Dropped != res.Reason.String() {
			w := "kept"
			if want.Dropped != "" {
				w = "dropped: " + want.Dropped
			}
			return append(diffs, fmt.Sprintf("%s, want %s", got, w))
		}
		return nil
	}
	if want.Body != nil && string(r.Body) != *want.Body {
		diffs = append(diffs, fmt.Sprintf("body %q, want %q", r.Body, *want.Body))
	}
	if want.Stream != "" && r.Stream != want.Stream {
		diffs = append(diffs, fmt.Sprintf("stream %q, want %q", r.Stream, want.Stream))
	}
	if want.Time != "" {
		t, err := time.Parse(time.RFC3339Nano, want.Time)
		switch {
		case err != nil:
			diffs = append(diffs, fmt.Sprintf("expected time %q: want RFC 3339", want.Time))
		case t.UnixNano() != r.Time:
			diffs = append(diffs, fmt.Sprintf("time %s, want %s", time.Unix(0, r.Time).UTC().Format(time.RFC3339Nano), want.Time))
		}
	}
	if want.Fields != nil {
		diffs = append(diffs, compareFields(r.Fields, want.Fields)...)
	}
	return diffs
}

func compareFields(fields []Field, want map[string]any) []string {
	var diffs []string
	seen := map[string]bool{}
	for _, f := range fields {
		key := string(f.Key)
		seen[key] = true
		w, ok := want[key]
		if !ok {
			diffs = append(diffs, fmt.Sprintf("+ field %s = %s: not expected", key, describeField(f)))
			continue
		}
		if !fieldEquals(f, w) {
			diffs = append(diffs, fmt.Sprintf("~ field %s = %s, want %s", key, describeField(f), describeWant(w)))
		}
	}
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !seen[k] {
			diffs = append(diffs, fmt.Sprintf("- field %s: missing, want %s", k, describeWant(want[k])))
		}
	}
	return diffs
}

func describeField(f Field) string {
	return fmt.Sprintf("%s (%s)", appendValueJSON(nil, f), f.Kind)
}

func describeWant(w any) string {
	b, err := json.Marshal(normalizeYAML(w))
	if err != nil {
		return fmt.Sprint(w)
	}
	kind := "string"
	switch w.(type) {
	case int, int64, uint64:
		kind = "int"
	case float64:
		kind = "float"
	case bool:
		kind = "bool"
	case nil:
		kind = "null"
	case []any, map[string]any:
		kind = "json"
	}
	return fmt.Sprintf("%s (%s)", b, kind)
}

// fieldEquals compares a field with a YAML value: the kinds must agree (an
// int is not the string "200"), lists and maps as JSON values.
func fieldEquals(f Field, w any) bool {
	switch v := w.(type) {
	case string:
		return f.Kind == KindString && string(f.Value) == v
	case bool:
		return f.Kind == KindBool && string(f.Value) == fmt.Sprint(v)
	case nil:
		return f.Kind == KindNull
	case int, int64, uint64:
		return f.Kind == KindInt && string(f.Value) == fmt.Sprint(v)
	case float64:
		x, ok := parseFloat(f.Value)
		return f.Kind == KindFloat && ok && x == v
	case []any, map[string]any:
		if f.Kind != KindJSON {
			return false
		}
		var got, wantV any
		wj, err := json.Marshal(normalizeYAML(w))
		return err == nil && json.Unmarshal(f.Value, &got) == nil && json.Unmarshal(wj, &wantV) == nil &&
			reflect.DeepEqual(got, wantV)
	}
	return false
}

// normalizeYAML turns the map[any]any a YAML decoder may give into JSON's
// map[string]any.
func normalizeYAML(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = normalizeYAML(e)
		}
		return out
	case map[any]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[fmt.Sprint(k)] = normalizeYAML(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normalizeYAML(e)
		}
		return out
	}
	return v
}
