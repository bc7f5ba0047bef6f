package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/capstan-agent/capstan/component"
	"github.com/capstan-agent/capstan/component/conf"
)

// listenConfig is a test input type that binds its listen addresses and
// reads its globs.
type listenConfig struct {
	Listen  []string `koanf:"listen"`
	Include []string `koanf:"include"`
	Network string   `koanf:"network"`
}

func (c *listenConfig) Validate() error { return nil }
func (c *listenConfig) Listeners() []component.Listener {
	var out []component.Listener
	for i, a := range c.Listen {
		out = append(out, component.Listener{Network: c.Network, Address: a, Path: conf.Index("listen", i)})
	}
	return out
}
func (c *listenConfig) Files() ([]string, []string) { return c.Include, nil }

type writeConfig struct {
	Path string `koanf:"path"`
}

func (c *writeConfig) Validate() error             { return nil }
func (c *writeConfig) Files() ([]string, []string) { return nil, []string{c.Path} }

func testRegistry() *component.Registry {
	return component.NewRegistry().
		Input(component.NewInputFactory("l", func() *listenConfig { return &listenConfig{Network: "tcp"} },
			func(component.Settings, *listenConfig) (component.Input, error) { return nil, nil })).
		Output(component.NewOutputFactory("w", func() *writeConfig { return &writeConfig{} },
			func(component.Settings, *writeConfig) (component.Output, error) { return nil, nil }))
}

func load(yaml string) (*Loaded, error) {
	return Load(Options{YAML: []byte("data_dir: /tmp/x\n" + yaml), Environ: []string{}, Registry: testRegistry()})
}

func TestConflicts(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"inputs:\n  a: {type: l, listen: [\"127.0.0.1:5170\"]}\n  b: {type: l, listen: [\":5170\"]}\noutputs:\n  o: {type: w, path: /o}\n",
			`inputs.b.listen[0]: tcp :5170 is already used by inputs.a.listen[0] (127.0.0.1:5170)`},
		{"inputs:\n  a: {type: l, listen: [\"0.0.0.0:80\"]}\n  b: {type: l, listen: [\"10.0.0.1:80\"]}\noutputs:\n  o: {type: w, path: /o}\n",
			`inputs.b.listen[0]: tcp 10.0.0.1:80 is already used by inputs.a.listen[0]`},
		{"http: {address: \"127.0.0.1:5171\"}\ninputs:\n  a: {type: l, listen: [\":5171\"]}\noutputs:\n  o: {type: w, path: /o}\n",
			`inputs.a.listen[0]: tcp :5171 is already used by http.address`},
		{"inputs:\n  a: {type: l, include: [\"/var/log/**/*.log\"]}\noutputs:\n  o: {type: w, path: /var/log/app/out.log}\n",
			`outputs.o.path: /var/log/app/out.log is read again by inputs.a`},
		{"inputs:\n  a: {type: l}\noutputs:\n  o: {type: w, path: /x/out}\n  p: {type: w, path: /x/../x/out}\n",
			`outputs.p.path: /x/out is also written by outputs.o`},
		{"streams: {s: {partitions: 2000}}\ninputs:\n  a: {type: l, stream: s}\noutputs:\n  o: {type: w, path: /o}\n",
			`streams.s.partitions: must be between 1 and 1024, got 2000`},
		{"spool: {segment_bytes: 512}\ninputs:\n  a: {type: l}\noutputs:\n  o: {type: w, path: /o}\n",
			`spool.segment_bytes: must be at least 1KiB and at most 1GiB, got 512`},
		{"streams: {s: {max_bytes: 8KiB, partitions: 4}}\ninputs:\n  a: {type: l, stream: s}\noutputs:\n  o: {type: w, path: /o}\n",
			`streams.s: max_bytes 8192 over 4 partitions leaves 2048 bytes each: want at least 4096 per partition`},
	} {
		_, err := load(tc.yaml)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s\ngot %v\nwant %s", tc.yaml, err, tc.want)
		}
	}
	// tcp and udp on one port, and port 0 twice, are fine.
	if _, err := load("inputs:\n  a: {type: l, listen: [\":5170\", \":0\"]}\n  b: {type: l, network: udp, listen: [\":5170\", \":0\"]}\noutputs:\n  o: {type: w, path: /o}\n"); err != nil {
		t.Errorf("tcp and udp on one port refused: %v", err)
	}
}

func TestWarnings(t *testing.T) {
	l, err := load("")
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Warnings) != 1 || !strings.Contains(l.Warnings[0], "no inputs are configured") {
		t.Errorf("warnings of an empty configuration: %q", l.Warnings)
	}
}

func TestSourceAttributes(t *testing.T) {
	l, err := load("attributes: {env: prod, host.name: edge-1}\ninputs:\n  a: {type: l, attributes: {k8s.node.name: n1, env: \"\"}}\noutputs:\n  o: {type: w, path: /o}\n")
	if err != nil {
		t.Fatal(err)
	}
	got := l.SourceAttributes(l.Inputs["a"])
	if len(got) != 2 || got["host.name"] != "edge-1" || got["k8s.node.name"] != "n1" {
		t.Errorf("source attributes = %v", got)
	}
	host, _ := os.Hostname()
	l, err = load("inputs:\n  a: {type: l}\noutputs:\n  o: {type: w, path: /o}\n")
	if err != nil {
		t.Fatal(err)
	}
	if got := l.SourceAttributes(l.Inputs["a"]); got["host.name"] != host {
		t.Errorf("host.name by default = %q, want %q", got["host.name"], host)
	}
}

func TestGlobMatch(t *testing.T) {
	for _, tc := range []struct {
		glob, path string
		want       bool
	}{
		{"/var/log/**/*.log", "/var/log/a.log", true},
		{"/var/log/**/*.log", "/var/log/x/y/a.log", true},
		{"/var/log/*.log", "/var/log/x/a.log", false},
		{"/srv/out.log*", "/srv/out.log.1", true},
		{"/srv/*.log", "/srv/out.log.1", false},
	} {
		if got := GlobMatch(tc.glob, tc.path); got != tc.want {
			t.Errorf("GlobMatch(%q, %q) = %v", tc.glob, tc.path, got)
		}
	}
}

func TestCheckDataDir(t *testing.T) {
	dir := t.TempDir()
	if err := CheckDataDir(filepath.Join(dir, "new", "deeper")); err != nil {
		t.Errorf("creatable dir refused: %v", err)
	}
	file := filepath.Join(dir, "file")
	os.WriteFile(file, nil, 0o644)
	if err := CheckDataDir(file); err == nil {
		t.Error("a file accepted as data dir")
	}
	if err := CheckDataDir(dir); err != nil {
		t.Errorf("free dir refused: %v", err)
	}
}
