package process

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestDocsExamples builds every YAML example of docs/processors.md, so the
// page cannot show a chain that capstan refuses; its test-file example must
// pass. The configuration's own ${VAR} interpolation is applied as the
// loader would ($$ -> $, ${REDACT_KEY} from the environment).
func TestDocsExamples(t *testing.T) {
	text, err := os.ReadFile("../../docs/processors.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllStringSubmatch(string(text), -1)
	if len(blocks) < 15 {
		t.Fatalf("found %d YAML examples", len(blocks))
	}
	opts := Options{Streams: []string{"app", "debug", "prod", "errors", "access"}, InputFields: []string{"*"}}
	for i, b := range blocks {
		y := b[1]
		y = strings.ReplaceAll(y, "${REDACT_KEY}", "0123456789abcdef0123")
		y = strings.ReplaceAll(y, "$${", "${")
		var doc any
		if err := yaml.Unmarshal([]byte(y), &doc); err != nil {
			t.Fatalf("example %d does not parse: %v\n%s", i, err, y)
		}
		switch d := doc.(type) {
		case []any:
			specs, err := DecodeSpecs(d)
			if err == nil {
				_, err = New(specs, opts)
			}
			if err != nil {
				t.Errorf("example %d: %v\n%s", i, err, y)
			}
		case map[string]any:
			if _, ok := d["tests"]; ok {
				tf, err := LoadTests(strings.NewReader(b[1]))
				if err != nil {
					t.Fatalf("example %d: %v", i, err)
				}
				if rep := RunTests(tf, nil); len(rep.Failures) > 0 {
					t.Errorf("example %d fails: %s", i, strings.Join(rep.Failures, "\n"))
				}
				continue
			}
			specs, err := DecodeSpecs(d["processors"])
			if err == nil {
				_, err = New(specs, opts)
			}
			if err != nil {
				t.Errorf("example %d: %v\n%s", i, err, y)
			}
		}
	}
}
