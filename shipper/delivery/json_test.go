package delivery

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestJSONString checks the escaper against encoding/json on every byte in
// every position of an eight-byte word.
func TestJSONString(t *testing.T) {
	for c := 0; c < 256; c++ {
		for pos := range 9 {
			s := []byte(strings.Repeat("a", pos) + string([]byte{byte(c)}) + strings.Repeat("b", 9-pos))
			got := AppendJSONString(nil, s)
			var back string
			if err := json.Unmarshal(got, &back); err != nil {
				t.Fatalf("byte %#x at %d: %q is not JSON: %v", c, pos, got, err)
			}
			if want := perByteValid(s); back != want {
				t.Fatalf("byte %#x at %d: %q decodes to %q, want %q", c, pos, got, back, want)
			}
		}
	}
}

func FuzzJSONString(f *testing.F) {
	for _, s := range []string{"", "plain", "quote\"", "\x00\x1f\x7f", "\xff\xfe", "ünï", "\u2028"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, s []byte) {
		got := AppendJSONString(nil, s)
		var back string
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatalf("%q is not JSON: %v", got, err)
		}
		if back != perByteValid(s) {
			t.Fatalf("%q round-trips to %q", s, back)
		}
	})
}

// perByteValid replaces each byte of invalid UTF-8 by U+FFFD, as
// encoding/json does.
func perByteValid(s []byte) string {
	var b strings.Builder
	for len(s) > 0 {
		r, n := utf8.DecodeRune(s)
		b.WriteRune(r)
		s = s[n:]
	}
	return b.String()
}
