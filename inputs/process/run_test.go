package process

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file: %v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("output differs from %s:\n--- got\n%s--- want\n%s", path, got, want)
	}
}

func TestRunLinesGolden(t *testing.T) {
	text, err := os.ReadFile("testdata/process/k8s.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c := chainOf(t, string(text), Options{Streams: []string{"app", "debug"}})
	lines, err := os.Open("testdata/process/k8s.lines")
	if err != nil {
		t.Fatal(err)
	}
	defer lines.Close()
	var out bytes.Buffer
	sum, err := RunLines(context.Background(), c, lines, &out, LinesOptions{
		Stream: "default", Time: 1777629700e9, Source: src("k8s.namespace.name", "shop"),
	})
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "process/k8s.golden", out.Bytes())
	if sum.Lines != 6 || sum.Kept != 5 || sum.Dropped["filter"] != 1 {
		t.Fatalf("summary %+v", sum)
	}
	st := c.Processors()
	if st[0].Stats.ParseErrors.Load() != 1 || st[1].Stats.ParseErrors.Load() != 1 || st[0].Stats.Skipped.Load() != 1 {
		t.Fatalf("json parse errors %d, timestamp %d, json skipped %d", st[0].Stats.ParseErrors.Load(),
			st[1].Stats.ParseErrors.Load(), st[0].Stats.Skipped.Load())
	}
}

func TestRunLinesLimits(t *testing.T) {
	c := chainOf(t, "- {type: set, field: n, expression: 'len(body)'}\n", Options{})
	in := "short\r\n" + strings.Repeat("x", 100) + "\n\xff\xfe\nlast"
	var out bytes.Buffer
	sum, err := RunLines(context.Background(), c, strings.NewReader(in), &out, LinesOptions{Time: 1, MaxLineBytes: 10})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"line":1,"time":"1970-01-01T00:00:00.000000001Z","stream":"","body":"short","fields":{"n":5}}
{"line":2,"time":"1970-01-01T00:00:00.000000001Z","stream":"","body":"xxxxxxxxxx","fields":{"n":10}}
{"line":3,"time":"1970-01-01T00:00:00.000000001Z","stream":"","body":"\ufffd\ufffd","fields":{"n":2}}
{"line":4,"time":"1970-01-01T00:00:00.000000001Z","stream":"","body":"last","fields":{"n":4}}
`
	if out.String() != want {
		t.Fatalf("output:\n%s\nwant:\n%s", out.String(), want)
	}
	if sum.Truncated != 1 || sum.Lines != 4 {
		t.Fatalf("summary %+v", sum)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := RunLines(ctx, c, strings.NewReader(in), &out, LinesOptions{}); err == nil {
		t.Fatal("a cancelled context did not stop RunLines")
	}
}

func TestRunTestsFile(t *testing.T) {
	f, err := os.Open("testdata/tests/pass.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tf, err := LoadTests(f)
	if err != nil {
		t.Fatal(err)
	}
	k8s, err := os.ReadFile("testdata/process/k8s.yaml")
	if err != nil {
		t.Fatal(err)
	}
	resolve := func(input string) (*Chain, error) {
		if input != "kube" {
			t.Fatalf("resolver asked for %q", input)
		}
		return buildYAML(string(k8s), Options{Streams: []string{"app", "debug"}})
	}
	rep := RunTests(tf, resolve)
	if len(rep.Failures) > 0 || rep.Passed != len(tf.Tests) {
		t.Fatalf("%d passed, failures:\n%s", rep.Passed, strings.Join(rep.Failures, "\n"))
	}
}

// TestRunTestsDiff pins the report of a failing test file: every
// difference named, with kinds.
func TestRunTestsDiff(t *testing.T) {
	f, err := os.Open("testdata/tests/fail.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tf, err := LoadTests(f)
	if err != nil {
		t.Fatal(err)
	}
	rep := RunTests(tf, nil)
	if rep.Passed != 0 {
		t.Fatalf("%d passed", rep.Passed)
	}
	golden(t, "tests/fail.golden", []byte(strings.Join(rep.Failures, "\n")+"\n"))
}

func TestLoadTestsErrors(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"tests:\n- name: a\n  lines: [x]\n  expect: []\n  processors: []\n", "tests[0] (a): 1 lines but 0 expectations: give one per line"},
		{"tests:\n- name: a\n  lines: []\n  expect: []\n", "tests[0] (a): needs input or processors"},
		{"tests:\n- name: a\n  input: x\n  processors: []\n", "tests[0] (a): set either input or processors"},
		{"tests:\n- name: a\n  expected: []\n", "field expected not found"},
	} {
		_, err := LoadTests(strings.NewReader(tc.text))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.text, err, tc.want)
		}
	}
}
