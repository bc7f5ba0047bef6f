package process

import (
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// chainOf builds a chain from YAML text of a processors list.
func chainOf(t testing.TB, text string, opts Options) *Chain {
	t.Helper()
	c, err := buildYAML(text, opts)
	if err != nil {
		t.Fatalf("build chain: %v", err)
	}
	return c
}

func buildYAML(text string, opts Options) (*Chain, error) {
	var raw any
	if err := yaml.Unmarshal([]byte(text), &raw); err != nil {
		return nil, err
	}
	specs, err := DecodeSpecs(raw)
	if err != nil {
		return nil, err
	}
	return New(specs, opts)
}

// fieldMap renders a record's fields as name -> kind:value, for comparisons.
func fieldMap(r *Record) map[string]string {
	m := map[string]string{}
	for _, f := range r.Fields {
		m[string(f.Key)] = f.Kind.String() + ":" + string(f.Value)
	}
	return m
}

func src(kv ...string) []Field {
	var out []Field
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, Field{Key: []byte(kv[i]), Value: []byte(kv[i+1])})
	}
	return out
}

func dedent(s string) string { return strings.TrimSpace(s) + "\n" }

// in is a record to run a chain on.
type in struct {
	body   string
	fields []Field
	source []Field
	time   int64
	stream string
}

// out is what a case expects; zero parts are not checked, except that
// fields (when not nil) must match exactly and in order.
type out struct {
	dropped Reason
	body    *string
	fields  []string // "key=kind:value"
	time    int64
	stream  string
}

func str(s string) *string { return &s }

type procCase struct {
	name  string
	chain string
	opts  Options
	in    in
	want  out
}

func runCases(t *testing.T, cases []procCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := chainOf(t, tc.chain, tc.opts)
			r, res := runOne(c, tc.in)
			checkOut(t, r, res, tc.want)
		})
	}
}

func runOne(c *Chain, i in) (*Record, Result) {
	rn := c.NewRunner()
	r := &Record{}
	stream := i.stream
	if stream == "" {
		stream = "default"
	}
	r.Reset(i.time, []byte(i.body), i.source, stream, i.fields...)
	res := rn.Process(r)
	rn.Flush()
	return r, res
}

func checkOut(t *testing.T, r *Record, res Result, want out) {
	t.Helper()
	if res.Reason != want.dropped {
		t.Fatalf("result %v, want dropped=%q (fields %v)", res, want.dropped, fieldList(r))
	}
	if want.body != nil && string(r.Body) != *want.body {
		t.Errorf("body %q, want %q", r.Body, *want.body)
	}
	if want.fields != nil {
		got := fieldList(r)
		if strings.Join(got, "\n") != strings.Join(want.fields, "\n") {
			t.Errorf("fields:\n  got  %q\n  want %q", got, want.fields)
		}
	}
	if want.time != 0 && r.Time != want.time {
		t.Errorf("time %d, want %d", r.Time, want.time)
	}
	if want.stream != "" && r.Stream != want.stream {
		t.Errorf("stream %q, want %q", r.Stream, want.stream)
	}
}

func fieldList(r *Record) []string {
	out := []string{}
	for _, f := range r.Fields {
		out = append(out, string(f.Key)+"="+f.Kind.String()+":"+string(f.Value))
	}
	return out
}

func fields(kv ...string) []Field {
	return src(kv...)
}
