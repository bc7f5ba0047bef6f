package lokifake

import "testing"

func TestParseLabels(t *testing.T) {
	for _, tc := range []struct {
		in, want, err string
	}{
		{`{app="x"}`, `{app="x"}`, ""},
		{`{ns="y", app="x"}`, `{app="x", ns="y"}`, ""},
		{" {\n app = \"x\" ,\tns='y',}", `{app="x", ns="y"}`, ""},
		{"{app=`raw\\n`}", `{app="raw\\n"}`, ""},
		{`{app="a\"b\u00e9\n"}`, `{app="a\"bé\n"}`, ""},
		{`{app="x", empty=""}`, `{app="x"}`, ""},
		{`{}`, `{}`, ""},
		{`up{job="x"}`, `{__name__="up", job="x"}`, ""},
		{`{_a9="1",Z="2"}`, `{Z="2", _a9="1"}`, ""},
		{`{app="x", app="y"}`, `{app="x", app="y"}`, ""}, // the validator refuses it
		{``, "", `1:1: parse error: unexpected end of input`},
		{`{app="x"`, "", `1:9: parse error: unexpected end of input inside braces`},
		{`{ab"}`, "", `1:4: parse error: unexpected string in label set, expected "="`},
		{`{app="x}`, "", `1:6: parse error: unterminated quoted string`},
		{`{app-name="x"}`, "", `1:5: parse error: unexpected "-" in label set, expected "="`},
		{`{9app="x"}`, "", `1:2: parse error: unexpected character inside braces: '9'`},
		{`{"app"="x"}`, "", `1:2: parse error: unexpected string in label set, expected identifier or "}"`},
		{`{app!="x"}`, "", `1:5: parse error: unexpected "!" in label set, expected "="`},
		{`{app=~"x"}`, "", `1:6: parse error: unexpected "=~" in label set, expected "="`},
		{`{app=x}`, "", `1:6: parse error: unexpected identifier "x" in label set, expected string`},
		{`{app="x" ns="y"}`, "", `1:10: parse error: unexpected identifier "ns" in label set, expected "," or "}"`},
		{`{app="x"} extra`, "", `1:11: parse error: unexpected identifier "extra", expected end of input`},
		{`app="x"`, "", `1:4: parse error: unexpected "=", expected "{"`},
		{`{app="\q"}`, "", `1:6: parse error: invalid syntax in quoted string`},
		{"{app=\"\xff\"}", "", `1:6: parse error: invalid UTF-8 in quoted string`},
	} {
		got, err := Canonical(tc.in)
		errText := ""
		if err != nil {
			errText = err.Error()
		}
		if got != tc.want || errText != tc.err {
			t.Errorf("Canonical(%q) = %q, %q; want %q, %q", tc.in, got, errText, tc.want, tc.err)
		}
	}
}
