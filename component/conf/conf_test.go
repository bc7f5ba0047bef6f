package conf

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestInterpolate(t *testing.T) {
	env := lookupIn([]string{"A=1", "EMPTY="})
	for _, tc := range []struct{ in, want, err string }{
		{in: "plain", want: "plain"},
		{in: "${A}", want: "1"},
		{in: "x${A}y${A}", want: "x1y1"},
		{in: "${EMPTY}", want: ""},
		{in: "${EMPTY:-d}", want: "d"},
		{in: "${NOPE:-d e}", want: "d e"},
		{in: "${NOPE:-}", want: ""},
		{in: "$$A $A $", want: "$A $A $"},
		{in: "${NOPE}", err: "environment variable NOPE is not set"},
		{in: "${A", err: "unterminated"},
		{in: "${1X}", err: "not a variable name"},
		{in: "pod ${k8s.pod.name} in ${A}", want: "pod ${k8s.pod.name} in 1"},
	} {
		got, err := Interpolate(tc.in, env)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("Interpolate(%q) error = %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("Interpolate(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Size
		ok   bool
	}{
		{"4096", 4096, true}, {"64MiB", 64 << 20, true}, {"1GB", 1e9, true}, {"1 GiB", 1 << 30, true},
		{"512k", 512e3, true}, {"1.5KiB", 1536, true}, {"0", 0, true}, {"64mib", 64 << 20, true},
		{"", 0, false}, {"MiB", 0, false}, {"12XB", 0, false}, {"-1", 0, false}, {"99999999999TiB", 0, false},
	} {
		got, err := ParseSize(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestParseDurationAndMode(t *testing.T) {
	if d, err := ParseDuration("1h30m"); err != nil || d.D() != 90*time.Minute {
		t.Errorf("ParseDuration(1h30m) = %v, %v", d, err)
	}
	if _, err := ParseDuration("5"); err == nil {
		t.Error("a bare 5 accepted as a duration")
	}
	if m, err := ParseFileMode("0660"); err != nil || m != 0o660 {
		t.Errorf("ParseFileMode(0660) = %v, %v", m, err)
	}
	if _, err := ParseFileMode("0999"); err == nil {
		t.Error("0999 accepted as a mode")
	}
}

type section struct {
	Name    string            `koanf:"name"`
	Mode    string            `koanf:"mode" enum:"a,b"`
	Size    Size              `koanf:"size"`
	Wait    time.Duration     `koanf:"wait"`
	Tags    []string          `koanf:"tags"`
	Labels  map[string]string `koanf:"labels"`
	Inner   *inner            `koanf:"inner"`
	List    []inner           `koanf:"list"`
	Skipped int               `koanf:"-"`
}

type inner struct {
	N int `koanf:"n"`
}

func (i *inner) SetDefaults() { i.N = 7 }

func (s *section) SetDefaults() { s.Mode = "a"; s.Size = 1 << 10 }

// TestDecode: every kind of key, defaults, and every problem at once with
// its key path and line.
func TestDecode(t *testing.T) {
	yaml := `name: x
mode: b
size: 2KiB
wait: 250ms
tags: [p, q]
labels: {k: v, "dotted.key": w}
inner: {}
list: [{n: 1}, {}]
`
	tree, err := Read(Source{Name: "t", YAML: []byte(yaml), Environ: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	var s section
	ApplyDefaults(&s)
	d := NewDecoder(tree)
	d.Decode("", tree.Raw, &s)
	if errs := d.Errors(); len(errs) > 0 {
		t.Fatal(errs)
	}
	want := section{Name: "x", Mode: "b", Size: 2 << 10, Wait: 250 * time.Millisecond, Tags: []string{"p", "q"},
		Labels: map[string]string{"k": "v", "dotted.key": "w"}, Inner: &inner{N: 7}, List: []inner{{N: 1}, {N: 7}}}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("decoded %+v, want %+v", s, want)
	}

	bad := `name: [x]
mode: c
size: lots
wait: 5
tags: {a: b}
inner: {n: x, m: 1}
nmae: y
`
	tree, err = Read(Source{Name: "t", YAML: []byte(bad), Environ: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	var s2 section
	ApplyDefaults(&s2)
	d = NewDecoder(tree)
	d.Decode("", tree.Raw, &s2)
	got := d.Errors().Error()
	for _, w := range []string{
		`inner.m: unknown key; did you mean "n"? (line 6)`,
		`inner.n: expected an integer, got "x" (line 6)`,
		`mode: "c" is not one of a, b (line 2)`,
		`name: expected a string, got a list (line 1)`,
		`nmae: unknown key; did you mean "name"? (line 7)`,
		`size: "lots" is not a size`,
		`tags: expected a list of strings, got a mapping (line 5)`,
		`wait: 5 has no unit`,
	} {
		if !strings.Contains(got, w) {
			t.Errorf("errors lack %q:\n%s", w, got)
		}
	}
}

// TestReadReportsTheLine: a YAML syntax error names the line the parser
// stopped at, and a variable with one underscore between levels is warned
// about.
func TestReadReportsTheLine(t *testing.T) {
	_, err := Read(Source{Name: "f.yaml", YAML: []byte("a:\n  b: 1\n c: 2\n"), Environ: []string{}})
	if err == nil || !strings.Contains(err.Error(), "parse f.yaml: line 3: this key is indented") {
		t.Errorf("syntax error: %v", err)
	}
	tree, err := Read(Source{Name: "f", YAML: []byte("log: {level: info}\n"), Prefix: "CAPSTAN_", TopKeys: []string{"log", "data_dir"},
		Environ: []string{"CAPSTAN_LOG_LEVEL=debug", "CAPSTAN_DATA_DIR=/x", "CAPSTAN_SOAK=1"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(tree.Warnings) != 1 || !strings.Contains(tree.Warnings[0], "did you mean CAPSTAN_LOG__LEVEL?") {
		t.Errorf("warnings = %q", tree.Warnings)
	}
	if tree.Raw["data_dir"] != "/x" {
		t.Errorf("CAPSTAN_DATA_DIR not applied: %v", tree.Raw)
	}
}

func TestErrorsMergeKeepsPaths(t *testing.T) {
	var inner Errors
	inner.Add("listen[0]", "bad")
	inner.Add("multiline.start_pattern", "missing")
	var e Errors
	e.Merge("inputs.a", inner)
	e.Merge("inputs.b", errString("plain"))
	want := "inputs.a.listen[0]: bad\ninputs.a.multiline.start_pattern: missing\ninputs.b: plain"
	if e.Error() != want {
		t.Errorf("got\n%s\nwant\n%s", e.Error(), want)
	}
}

type errString string

func (e errString) Error() string { return string(e) }

func TestChecks(t *testing.T) {
	var e Errors
	e.HostPort("a", "127.0.0.1:99999", false)
	e.HostPort("b", ":0", false)
	e.HostPort("c", ":0", true)
	e.HostPort("d", "nohost", false)
	e.URL("e", "localhost:4318", "http", "https")
	e.URL("f", "https://x/v1", "http", "https")
	got := e.Error()
	for _, w := range []string{`a: "127.0.0.1:99999": port "99999" is not a port number`, `b: ":0": port "0"`,
		`d: "nohost" is not host:port`, `e: "localhost:4318": want a URL starting with http:// or https://`} {
		if !strings.Contains(got, w) {
			t.Errorf("lack %q in\n%s", w, got)
		}
	}
	if strings.Contains(got, "c:") || strings.Contains(got, "f:") {
		t.Errorf("good values refused:\n%s", got)
	}
}
