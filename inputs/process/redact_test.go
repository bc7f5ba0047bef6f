package process

import (
	"strings"
	"testing"
)

func TestDetectors(t *testing.T) {
	cases := []struct {
		det, text string
		want      []string // the matched text
	}{
		{"card", "paid with 4111 1111 1111 1111 today", []string{"4111 1111 1111 1111"}},
		{"card", "4111-1111-1111-1111", []string{"4111-1111-1111-1111"}},
		{"card", "amex 378282246310005.", []string{"378282246310005"}},
		{"card", "bad luhn 4111111111111112", nil},
		{"card", "order 1234567890123456789012 id", nil},
		{"card", "id=a4111111111111111", nil},
		{"card", "version 1.4111111111111111", nil},
		{"card", "starts with 9: 9111111111111115", nil},
		{"card", "ts 1777629600123", nil},
		{"email", "mail bob.smith+x@mail.example.com, then", []string{"bob.smith+x@mail.example.com"}},
		{"email", "user@localhost and @ alone and a@b.c1", nil},
		{"email", "<alice@example.org>.", []string{"alice@example.org"}},
		{"jwt", "token=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U;",
			[]string{"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"}},
		{"jwt", "unsigned eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0x. end", []string{"eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0x."}},
		{"jwt", "eyJshort.x.y and eyJhbGciOiJIUzI1NiJ9 alone", nil},
		{"aws_key", "key AKIAIOSFODNN7EXAMPLE and ASIAY34FZKBOKMUTVV7A", []string{"AKIAIOSFODNN7EXAMPLE", "ASIAY34FZKBOKMUTVV7A"}},
		{"aws_key", "AKIAIOSFODNN7EXAMPLEX XAKIAIOSFODNN7EXAMPLE AKIAiosfodnn7example", nil},
		{"github_token", "ghp_" + strings.Repeat("a1", 18) + " github_pat_11ABCDEFG0123456789_abcdefghij",
			[]string{"ghp_" + strings.Repeat("a1", 18), "github_pat_11ABCDEFG0123456789_abcdefghij"}},
		{"github_token", "ghp_short ghx_" + strings.Repeat("a", 40), nil},
		{"slack_token", "xoxb-1234567890-abcdefghij", []string{"xoxb-1234567890-abcdefghij"}},
		{"slack_token", "xoxz-1234567890 xoxb-short", nil},
		{"bearer", "Authorization: Bearer abc.DEF-123_456~+/== next", []string{"abc.DEF-123_456~+/=="}},
		{"bearer", "authorization: bearer  0123456789abcdef", []string{"0123456789abcdef"}},
		{"bearer", "AUTHORIZATION: BEARER 0123456789abcdef", []string{"0123456789abcdef"}},
		{"bearer", "Bearer short and unbearer 0123456789", nil},
	}
	for _, tc := range cases {
		t.Run(tc.det+" "+tc.text, func(t *testing.T) {
			var got []string
			for _, s := range detectors[tc.det].scan([]byte(tc.text), nil) {
				got = append(got, tc.text[s.start:s.end])
			}
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestRedact(t *testing.T) {
	any := Options{InputFields: []string{"*"}}
	key := "0123456789abcdef"
	runCases(t, []procCase{
		{name: "mask the body and string fields", chain: "- type: redact\n", opts: any,
			in: in{body: "from bob@example.com card 4111111111111111",
				fields: []Field{{Key: []byte("n"), Value: []byte("4111111111111111"), Kind: KindInt}, {Key: []byte("ok"), Value: []byte("true"), Kind: KindBool}}},
			want: out{body: str("from **** card ****"), fields: []string{"n=string:****", "ok=bool:true"}}},
		{name: "only named fields, not the body", chain: "- {type: redact, detectors: [email], body: false, fields: [user]}\n", opts: any,
			in:   in{body: "a@example.com", fields: fields("user", "a@example.com", "other", "a@example.com")},
			want: out{body: str("a@example.com"), fields: []string{"user=string:****", "other=string:a@example.com"}}},
		{name: "hash is keyed and stable", chain: "- {type: redact, detectors: [email], action: hash, hash_key: " + key + "}\n",
			in:   in{body: "a@example.com b@example.com a@example.com"},
			want: out{body: str("hash:" + hmac16(key, "a@example.com") + " hash:" + hmac16(key, "b@example.com") + " hash:" + hmac16(key, "a@example.com"))}},
		{name: "drop_field", chain: "- {type: redact, detectors: [aws_key], action: drop_field, body: false}\n", opts: any,
			in:   in{fields: fields("a", "x", "k", "id AKIAIOSFODNN7EXAMPLE", "b", "y")},
			want: out{fields: []string{"a=string:x", "b=string:y"}}},
		{name: "custom patterns with a secret group", chain: "- type: redact\n  patterns: ['password=(?P<secret>\\S+)', 'pin \\d{4}']\n  mask: '[x]'\n",
			in:   in{body: "login password=hunter2 pin 1234 ok"},
			want: out{body: str("login password=[x] [x] ok")}},
		{name: "overlapping matches merge", chain: "- type: redact\n  patterns: ['abc', 'bcd']\n",
			in: in{body: "xabcdx"}, want: out{body: str("x****x")}},
		{name: "JSON values are looked at and become strings", chain: "- {type: redact, detectors: [email]}\n", opts: any,
			in:   in{fields: []Field{{Key: []byte("j"), Value: []byte(`["a@example.com"]`), Kind: KindJSON}}},
			want: out{fields: []string{`j=string:["****"]`}}},
		{name: "nothing found leaves the record", chain: "- type: redact\n",
			in: in{body: "all clear 12:00:00 v1.2.3"}, want: out{body: str("all clear 12:00:00 v1.2.3")}},
	})
}

func hmac16(key, s string) string {
	rn := (&Chain{macKeys: [][]byte{[]byte(key)}}).NewRunner()
	return string(rn.appendHash(nil, 0, []byte(s)))[len("hash:"):]
}

func TestLuhn(t *testing.T) {
	for _, n := range []string{"4111111111111111", "5555555555554444", "378282246310005", "6011111111111117"} {
		d := make([]byte, len(n))
		for i := range n {
			d[i] = n[i] - '0'
		}
		if !luhn(d) {
			t.Errorf("%s: Luhn false", n)
		}
		d[len(d)-1] = (d[len(d)-1] + 1) % 10
		if luhn(d) {
			t.Errorf("%s with its check digit changed: Luhn true", n)
		}
	}
}
