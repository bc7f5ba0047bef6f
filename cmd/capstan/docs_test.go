package main

import (
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/capstan-agent/capstan/agent/config"
	"github.com/capstan-agent/capstan/component/conf"
)

// The documentation is what a user has: every YAML example and every
// capstan command it shows must work with this binary. (The configuration
// reference's tables are held by TestDocInStep; the processors page's
// examples by inputs/process's TestDocsExamples.)

var (
	topLevelType = regexp.MustCompile(`(?m)^type: `)
	fenceRE      = regexp.MustCompile("(?s)```([a-z]*)\n(.*?)```")
	// A command as a user types it, in a code block or in backticks.
	commandRE = regexp.MustCompile("(?m)(?:^|`)(?:\\$ |sudo -u capstan )?capstan( [^`\n]*)")
)

func docPages(t *testing.T) map[string]string {
	t.Helper()
	files, _ := filepath.Glob("../../docs/*.md")
	files = append(files, "../../README.md")
	pages := map[string]string{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		pages[filepath.Base(f)] = string(b)
	}
	return pages
}

// TestDocYAMLLoads: a YAML example is a configuration that loads, or a
// section of one (an input, an output, a processors list) whose keys and
// types exist.
func TestDocYAMLLoads(t *testing.T) {
	reg := registry(io.Discard)
	env := []string{"NODE_NAME=n", "CORE_TOKEN=t", "HOSTNAME=h", "CAPSTAN_TOKEN=t"}
	n := 0
	for page, text := range docPages(t) {
		if page == "processors.md" {
			continue // TestDocsExamples of inputs/process builds every one
		}
		for _, m := range fenceRE.FindAllStringSubmatch(text, -1) {
			if m[1] != "yaml" || strings.Contains(m[2], "apiVersion:") {
				continue // Kubernetes manifests are checked by packaging/k8stest
			}
			n++
			block := m[2]
			wraps := []string{"data_dir: /tmp/capstan-doc\n" + block}
			if topLevelType.MatchString(block) { // one input's or output's section
				wraps = []string{
					"data_dir: /tmp/capstan-doc\ninputs:\n  x:\n" + indent(block, "    "),
					"data_dir: /tmp/capstan-doc\noutputs:\n  x:\n" + indent(block, "    "),
				}
			}
			var last error
			ok := false
			for _, w := range wraps {
				_, err := config.Load(config.Options{YAML: []byte(w), Environ: env, Registry: reg})
				if err == nil || !unknownKeys(err) {
					ok, last = true, err
					break
				}
				last = err
			}
			if !ok {
				t.Errorf("%s: a YAML example does not load:\n%s\n%v", page, block, last)
			} else if last != nil && strings.Contains(block, "inputs:") && strings.Contains(block, "outputs:") {
				t.Errorf("%s: a whole configuration in the docs does not load:\n%s\n%v", page, block, last)
			}
		}
	}
	if n == 0 {
		t.Fatal("no YAML examples found")
	}
}

// unknownKeys tells whether a load failed on keys or types that do not
// exist (rather than on a value a fragment leaves out).
func unknownKeys(err error) bool {
	if !conf.IsInvalid(err) {
		return true // does not parse
	}
	for _, l := range strings.Split(err.Error(), "\n") {
		if strings.Contains(l, "unknown key") || strings.Contains(l, "unknown input type") ||
			strings.Contains(l, "unknown output type") || strings.Contains(l, "unknown processor type") ||
			strings.Contains(l, "is not one of") {
			return true
		}
	}
	return false
}

func indent(s, by string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = by + l
	}
	return strings.Join(lines, "\n") + "\n"
}

// TestDocCommandsExist: every capstan command the docs show exists, with
// the flags it shows.
func TestDocCommandsExist(t *testing.T) {
	subcommands := map[string]bool{"run": true, "validate": true, "spool": true, "bench": true, "version": true,
		"process": true, "test": true, "--help": true, "-h": true, "help": true}
	n := 0
	for page, text := range docPages(t) {
		for _, m := range commandRE.FindAllStringSubmatch(text, -1) {
			words := strings.Fields(m[1])
			if len(words) == 0 || !strings.HasPrefix(words[0], "-") && !isCommandWord(words[0]) {
				continue // prose: "capstan reads one YAML file"
			}
			n++
			cmd := words[0]
			if !subcommands[cmd] {
				t.Errorf("%s: `capstan %s`: no such command", page, m[1])
				continue
			}
			args := []string{cmd}
			if cmd == "spool" && len(words) > 1 && !strings.HasPrefix(words[1], "-") {
				args = append(args, words[1])
			}
			r := capstan(t, ".", env(), append(args, "--help")...)
			if r.code != 0 {
				t.Errorf("%s: `capstan %s`: capstan %s --help exits %d", page, m[1], strings.Join(args, " "), r.code)
				continue
			}
			for _, w := range words[1:] {
				flag, _, _ := strings.Cut(w, "=")
				if strings.HasPrefix(flag, "-") && flag != "--help" && flag != "-h" && flag != "--" &&
					!strings.Contains(r.stdout, flag+" ") && !strings.Contains(r.stdout, flag+",") && !strings.Contains(r.stdout, flag+"\n") {
					t.Errorf("%s: `capstan %s`: capstan %s has no flag %s", page, m[1], strings.Join(args, " "), flag)
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("no commands found in the docs")
	}
}

// isCommandWord tells a command from prose: commands are lower-case words
// the binary knows or might know; prose words after "capstan" are verbs.
func isCommandWord(w string) bool {
	switch w {
	case "run", "validate", "spool", "bench", "version", "process", "test", "help":
		return true
	}
	return false
}
