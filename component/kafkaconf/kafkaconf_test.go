package kafkaconf

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSplitBrokers(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
		err  string
	}{
		{"a:1", []string{"a:1"}, ""},
		{"a:1,b:2", []string{"a:1", "b:2"}, ""},
		{" a:1 , [::1]:2 ", []string{"a:1", "[::1]:2"}, ""},
		{"a", nil, `"a" is not host:port`},
		{":9092", nil, `":9092" is not host:port`},
		{"a:1,,b:2", nil, `"" is not host:port`},
		{"a:x", nil, `port "x" is not a port number`},
		{"a:65536", nil, `port "65536"`},
		{"a b:1", nil, `"a b" is not a host name`},
	} {
		got, err := SplitBrokers(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: error %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("%q: %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

// FuzzSplitBrokers: no input panics; what is accepted is host:port entries
// that parse again to themselves, and every error is one line.
func FuzzSplitBrokers(f *testing.F) {
	for _, s := range []string{"a:1", "a:1,b:2", "[::1]:9092", "a", ",", "a:1,", "kafka://a:1", "a:99999", " a:1 "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		bs, err := SplitBrokers(s)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("a multi-line error: %q", err)
			}
			return
		}
		if len(bs) == 0 {
			t.Fatalf("%q accepted with no brokers", s)
		}
		for _, b := range bs {
			again, err := SplitBrokers(b)
			if err != nil || len(again) != 1 || again[0] != b {
				t.Errorf("%q: entry %q does not parse again to itself: %q, %v", s, b, again, err)
			}
		}
	})
}

func TestAuthReadsPasswordFile(t *testing.T) {
	secret := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(secret, []byte("s3cret\n"), 0o600)
	for _, m := range []string{Plain, ScramSHA256, ScramSHA512} {
		got, err := (&SASL{Mechanism: m, Username: "u", PasswordFile: secret}).Auth()
		if err != nil || got.Name() != m {
			t.Errorf("%s: %v, %v", m, got, err)
		}
	}
	if _, err := (&SASL{Mechanism: Plain, Username: "u", PasswordFile: secret + ".gone"}).Auth(); err == nil || !strings.Contains(err.Error(), "sasl.password_file") {
		t.Errorf("a missing password file: %v", err)
	}
}
