package config

import (
	"strings"
	"testing"
)

// FuzzLoad: no YAML, however hostile, panics the loader; what it accepts
// is a configuration that loads again to the same result.
func FuzzLoad(f *testing.F) {
	for _, s := range []string{
		"", "{}", "inputs: {a: {type: file, include: [x]}}\noutputs: {o: {type: stdout}}",
		"spool: {segment_bytes: 1GiB, fsync: always}", "streams: {s: {partitions: 99999999999999999999}}",
		"inputs: [1, 2]", "inputs: {a: {type: [x]}}", "log: ${X:-y}", "shutdown_grace: -5s",
		"outputs: {o: {type: forward, endpoints: [\"a:1\"], tls: {cert_file: /nonexistent}}}",
		"inputs: {u: {type: unix, listen: [/a, /a], socket_mode: 99999}}", "? [a]\n: b",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, yaml string) {
		cfg, err := Load(Options{YAML: []byte(yaml), Environ: []string{"X=1"}})
		if err != nil {
			if strings.Contains(err.Error(), "\n") && !IsInvalid(err) {
				t.Errorf("a multi-line error that is not a list of problems: %q", err)
			}
			return
		}
		if cfg.DataDir == "" || cfg.Spool.SegmentBytes <= 0 {
			t.Errorf("accepted config without defaults: %+v", cfg)
		}
	})
}

func FuzzInterpolate(f *testing.F) {
	for _, s := range []string{"", "$", "$$", "${A}", "${A:-b}", "${", "${}", "x${A:-${B}}y", "${A:-}"} {
		f.Add(s)
	}
	lookup := lookupIn([]string{"A=1"})
	f.Fuzz(func(t *testing.T, s string) {
		out, err := Interpolate(s, lookup)
		if err == nil && !strings.Contains(s, "$") && out != s {
			t.Errorf("Interpolate changed %q without a $: %q", s, out)
		}
	})
}

func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"0", "64MiB", "1.5GB", "9223372036854775807", "1e3", ".", "1..2k", "99999999999TiB"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseSize(s)
		if err == nil && n < 0 {
			t.Errorf("ParseSize(%q) = %d", s, n)
		}
	})
}
