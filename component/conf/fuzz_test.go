package conf

import (
	"strings"
	"testing"
)

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

// FuzzParseDuration: what parses prints back as something that parses to
// the same duration.
func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"0", "5s", "1h30m", "500ms", "-1s", "5", "1.5h", "9999999999h", "1µs"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDuration(s)
		if err != nil {
			return
		}
		back, err := ParseDuration(d.String())
		if err != nil || back != d {
			t.Errorf("ParseDuration(%q) = %v, printed %q, parsed back %v, %v", s, d, d.String(), back, err)
		}
	})
}

// FuzzParseFileMode: a mode that parses is at most 07777 and prints back.
func FuzzParseFileMode(f *testing.F) {
	for _, s := range []string{"0660", "0666", "777", "07777", "0999", "", "-1", "0x1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseFileMode(s)
		if err != nil {
			return
		}
		if m > 0o7777 {
			t.Errorf("ParseFileMode(%q) = %o", s, m)
		}
		if back, err := ParseFileMode(m.String()); err != nil || back != m {
			t.Errorf("ParseFileMode(%q) = %v, back %v, %v", s, m, back, err)
		}
	})
}
