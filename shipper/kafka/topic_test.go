package kafka

import (
	"strings"
	"testing"

	"github.com/capstan-agent/capstan/spool/batch"
)

// attrs makes an attribute iterator of key/value pairs, as a batch holds
// them.
func attrs(t testing.TB, kv ...string) batch.AttrIter {
	t.Helper()
	var a []batch.Attr
	for i := 0; i+1 < len(kv); i += 2 {
		a = append(a, batch.StringAttr(kv[i], kv[i+1]))
	}
	var b batch.Builder
	b.ResetV2(1, 0, a)
	b.AddRecord(0, batch.KindString, []byte("x"), nil)
	bt, _, err := batch.Decode(b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	return bt.SourceAttrs()
}

func TestTopicTemplate(t *testing.T) {
	own := attrs(t, "team", "payments", "odd", "a/b c")
	src := attrs(t, "k8s.namespace.name", "shop", "team", "src-team")
	for _, tc := range []struct {
		tmpl, want, missing, err string
	}{
		{tmpl: "logs", want: "logs"},
		{tmpl: "logs.app_v2-x", want: "logs.app_v2-x"},
		{tmpl: "logs-${k8s.namespace.name}", want: "logs-shop"},
		{tmpl: "${team}", want: "payments"}, // the record's own field wins
		{tmpl: "${team}.${k8s.namespace.name}", want: "payments.shop"},
		{tmpl: "x-${odd}", want: "x-a_b_c"},
		{tmpl: "x-${gone}", missing: "gone"},
		{tmpl: "logs-${}", err: "${} at byte 5 names no field"},
		{tmpl: "logs-${a b}", err: "names no field"},
		{tmpl: "logs-${ns", err: "unterminated ${ at byte 5"},
		{tmpl: "logs app", err: `" " at byte 4 cannot be in a topic name`},
		{tmpl: "a$b", err: `"$" at byte 1`},
		{tmpl: "..", err: "is not a topic name"},
		{tmpl: strings.Repeat("x", 250), err: "longer than Kafka's 249 bytes"},
	} {
		tt, err := parseTopic(tc.tmpl)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: error %v, want %q", tc.tmpl, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.tmpl, err)
			continue
		}
		if tt.String() != tc.tmpl {
			t.Errorf("%q prints as %q", tc.tmpl, tt.String())
		}
		got, missing := tt.expand(nil, func(name string) ([]byte, bool) { return lookup(name, own, src) })
		if missing != tc.missing || tc.missing == "" && string(got) != tc.want {
			t.Errorf("%q: %q (missing %q), want %q (missing %q)", tc.tmpl, got, missing, tc.want, tc.missing)
		}
	}
}

// FuzzParseTopic: no template panics the parser; one it takes prints back
// as itself and expands to bytes a topic may hold.
func FuzzParseTopic(f *testing.F) {
	for _, s := range []string{"logs", "logs-${k8s.namespace.name}", "${a}${b}", "${", "${}", "$$", "a${b", "x-${a}-y", "é"} {
		f.Add(s)
	}
	own := attrs(f, "a", "v/1", "b", "", "k8s.namespace.name", "shop")
	f.Fuzz(func(t *testing.T, s string) {
		tt, err := parseTopic(s)
		if err != nil {
			return
		}
		if tt.String() != s {
			t.Fatalf("%q prints as %q", s, tt.String())
		}
		out, _ := tt.expand(nil, func(name string) ([]byte, bool) { return lookup(name, own, batch.AttrIter{}) })
		for _, c := range out {
			if !topicByte(rune(c)) {
				t.Fatalf("%q expands to %q", s, out)
			}
		}
	})
}

// lookup is the value of field name: own's attribute, or src's.
func lookup(name string, own, src batch.AttrIter) ([]byte, bool) {
	for a, ok := own.NextAttr(); ok; a, ok = own.NextAttr() {
		if string(a.Key) == name {
			return a.Value, true
		}
	}
	for a, ok := src.NextAttr(); ok; a, ok = src.NextAttr() {
		if string(a.Key) == name {
			return a.Value, true
		}
	}
	return nil, false
}
