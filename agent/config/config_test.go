package config

import (
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files")

const testdata = "../../testdata/config"

// TestInvalidGolden pins the error output for each invalid config: every
// problem at once, with its key path.
func TestInvalidGolden(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(testdata, "invalid", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no invalid configs: %v", err)
	}
	dir, err := filepath.Abs(filepath.Join(testdata, "invalid"))
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir) // error messages name the file as given, as `capstan validate -c` would
	for _, f := range files {
		f = filepath.Base(f)
		t.Run(f, func(t *testing.T) {
			_, err := Load(Options{Path: f, Environ: []string{}, CheckDataDir: true})
			if err == nil {
				t.Fatal("Load accepted an invalid config")
			}
			if !IsInvalid(err) {
				t.Fatalf("error is not a config error: %v", err)
			}
			got := err.Error() + "\n"
			golden := strings.TrimSuffix(f, ".yaml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("errors differ from %s:\n--- got\n%s--- want\n%s", golden, got, want)
			}
		})
	}
}

func TestValidExamples(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(testdata, "valid", "*.yaml"))
	if len(files) == 0 {
		t.Fatal("no valid configs")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			if _, err := Load(Options{Path: f, Environ: []string{}}); err != nil {
				t.Fatalf("Load: %v", err)
			}
		})
	}
}

func TestEmbeddedDefault(t *testing.T) {
	cfg, err := Load(Options{Environ: []string{"XDG_STATE_HOME=/state"}})
	if err != nil {
		t.Fatalf("embedded default does not load: %v", err)
	}
	if cfg.DataDir != "/state/capstan" {
		t.Errorf("data_dir = %q, want /state/capstan", cfg.DataDir)
	}
	if in := cfg.Inputs["varlog"]; in == nil || in.File == nil || in.File.Include[0] != "/var/log/**/*.log" {
		t.Errorf("varlog input = %+v", in)
	}
	if in := cfg.Inputs["local_tcp"]; in == nil || in.TCP == nil || in.TCP.Listen[0] != "127.0.0.1:5170" {
		t.Errorf("local_tcp input = %+v", in)
	}
	if out := cfg.Outputs["console"]; out == nil || out.Stdout == nil {
		t.Errorf("console output = %+v", out)
	}
	cfg, err = Load(Options{Environ: []string{}})
	if err != nil || cfg.DataDir != "capstan-data" {
		t.Errorf("without XDG_STATE_HOME: data_dir = %q, %v", cfg.DataDir, err)
	}
}

func TestDefaultsApplied(t *testing.T) {
	pem := filepath.Join(t.TempDir(), "x.pem")
	os.WriteFile(pem, nil, 0o600)
	cfg, err := Load(Options{YAML: []byte(`
inputs:
  in: {type: tcp, listen: [":1"], tls: {cert_file: ` + pem + `, key_file: ` + pem + `}}
outputs:
  out: {type: forward, endpoints: ["x:1"]}
`), Environ: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	in := cfg.Inputs["in"]
	if in.Stream != "default" || in.TCP.Framing != "auto" || in.TCP.MaxMessageBytes != 64<<10 || in.TCP.TLS.MinVersion != "1.2" {
		t.Errorf("input defaults not applied: %+v %+v", in, in.TCP)
	}
	out := cfg.Outputs["out"].Forward
	if out.Backoff.Max.D() != 5*time.Second || out.DrainTimeout.D() != 5*time.Second || cfg.Outputs["out"].StartAt != "oldest" {
		t.Errorf("output defaults not applied: %+v", out)
	}
	if cfg.Spool.SegmentBytes != 64<<20 || cfg.Spool.Fsync != "interval" || cfg.ShutdownGrace.D() != 30*time.Second {
		t.Errorf("spool defaults not applied: %+v", cfg.Spool)
	}
}

// TestLayers: the file, then CAPSTAN_* variables, then flags; ${VAR} anywhere.
func TestLayers(t *testing.T) {
	yaml := []byte(`
data_dir: ${DIR:-/from/default}
log: {level: info}
spool: {fsync: never}
inputs:
  in: {type: udp, listen: ["127.0.0.1:${PORT}"]}
outputs:
  out: {type: stdout}
`)
	env := []string{
		"PORT=9000",
		"CAPSTAN_SPOOL__FSYNC=always",
		"CAPSTAN_SPOOL__SEGMENT_BYTES=1MiB",
		"CAPSTAN_LOG__LEVEL=warn",
		"CAPSTAN_INPUTS__IN__LISTEN=127.0.0.1:1,127.0.0.1:2",
		"CAPSTAN_SOAK=1",   // not a config key: left alone
		"CAPSTAN_CONFIG=x", // likewise
	}
	cfg, err := Load(Options{YAML: yaml, Environ: env, Overrides: []Override{{Key: "log.level", Value: "debug", Origin: "--log-level"}}})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DataDir != "/from/default" {
		t.Errorf("data_dir = %q", cfg.DataDir)
	}
	if cfg.Spool.Fsync != "always" || cfg.Spool.SegmentBytes != 1<<20 {
		t.Errorf("env did not override spool: %+v", cfg.Spool)
	}
	if cfg.Log.Level != "debug" {
		t.Errorf("flag did not override env: level %q", cfg.Log.Level)
	}
	if got := cfg.Inputs["in"].UDP.Listen; !reflect.DeepEqual(got, []string{"127.0.0.1:1", "127.0.0.1:2"}) {
		t.Errorf("env list = %q", got)
	}
	_, err = Load(Options{YAML: yaml, Environ: []string{"PORT=1", "CAPSTAN_SPOOL__FSYNC=sometimes"}})
	if err == nil || !strings.Contains(err.Error(), `spool.fsync: "sometimes" is not one of never, interval, always (set by CAPSTAN_SPOOL__FSYNC)`) {
		t.Errorf("env error does not name its variable: %v", err)
	}
}

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
