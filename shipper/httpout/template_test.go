package httpout

import (
	"strings"
	"testing"

	"github.com/capstan-agent/capstan/spool/batch"
)

func TestParseTemplate(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string // parts: "lit" or {ref}
		err  string
	}{
		{"https://logs.example.com/ingest", "https://logs.example.com/ingest", ""},
		{"https://x/${k8s.namespace.name}/push", "https://x/|{k8s.namespace.name}|/push", ""},
		{"${tenant}", "{tenant}", ""},
		{"$${HOME} costs $$5 and $ alone", "${HOME} costs $5 and $ alone", ""},
		{"a${x}${y}b", "a|{x}|{y}|b", ""},
		{"bad ${x", "", "unterminated ${ at byte 4"},
		{"bad ${}", "", "${} at byte 4: not a field name"},
	} {
		tp, err := parseTemplate(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: error %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		var parts []string
		for _, p := range tp.parts {
			if p.ref != "" {
				parts = append(parts, "{"+p.ref+"}")
			} else {
				parts = append(parts, p.lit)
			}
		}
		if got := strings.Join(parts, "|"); err != nil || got != tc.want {
			t.Errorf("%q: %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestTemplateExpand(t *testing.T) {
	tp, _ := parseTemplate("https://x/${ns}/${pod}")
	got := tp.expand(nil, [][]byte{[]byte("shop"), []byte("a/b c")}, appendPathEscape)
	if string(got) != "https://x/shop/a%2Fb%20c" {
		t.Errorf("expanded %q", got)
	}
	var b batch.Builder
	b.Reset(0, []batch.Attr{batch.StringAttr("ns", "from-source"), batch.StringAttr("pod", "p1")})
	b.AddWithAttrs(1, []byte("x"), []batch.Attr{batch.StringAttr("ns", "own")})
	bt, _, err := batch.Decode(b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	it := bt.Records()
	var r batch.Record
	it.Next(&r)
	for _, tc := range []struct{ name, want string }{{"ns", "own"}, {"pod", "p1"}, {"none", ""}} {
		if got := lookup(tc.name, r.Attrs(), bt.SourceAttrs()); string(got) != tc.want {
			t.Errorf("lookup(%s) = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func FuzzParseTemplate(f *testing.F) {
	for _, s := range []string{"https://x/${a.b}/y", "$${x}", "${", "$$$", "${a}${b}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tp, err := parseTemplate(s)
		if err != nil {
			return
		}
		vals := make([][]byte, len(tp.refs()))
		for i := range vals {
			vals[i] = []byte("v")
		}
		out := tp.expand(nil, vals, func(d, v []byte) []byte { return append(d, v...) })
		if tp.static() && strings.Count(s, "$$") == 0 && string(out) != s {
			t.Errorf("static template %q expanded to %q", s, out)
		}
	})
}
