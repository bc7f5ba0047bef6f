package process

import (
	"testing"
)

func TestFieldSteps(t *testing.T) {
	abc := Options{InputFields: []string{"a", "b", "c", "http.*"}}
	base := fields("a", "1", "b", "2", "c", "3")
	runCases(t, []procCase{
		{name: "rename keeps the place", chain: "- {type: rename, from: b, to: x}\n", opts: abc,
			in: in{fields: base}, want: out{fields: []string{"a=string:1", "x=string:2", "c=string:3"}}},
		{name: "rename onto an existing field replaces it", chain: "- {type: rename, from: c, to: a}\n", opts: abc,
			in: in{fields: base}, want: out{fields: []string{"b=string:2", "a=string:3"}}},
		{name: "rename of a missing field does nothing", chain: "- {type: rename, from: a, to: z}\n", opts: abc,
			in: in{fields: fields("b", "2")}, want: out{fields: []string{"b=string:2"}}},
		{name: "copy", chain: "- {type: copy, from: a, to: c}\n", opts: abc,
			in: in{fields: base}, want: out{fields: []string{"a=string:1", "b=string:2", "c=string:1"}}},
		{name: "delete names and prefixes", chain: "- {type: delete, fields: [a, 'http.*']}\n", opts: abc,
			in:   in{fields: fields("a", "1", "http.x", "2", "httpx", "3", "b", "4")},
			want: out{fields: []string{"httpx=string:3", "b=string:4"}}},
		{name: "keep names and prefixes, and capstan fields", chain: "- {type: keep, fields: [b, 'http.*']}\n", opts: abc,
			in:   in{fields: fields("a", "1", "http.x", "2", "capstan.parse_error", "e", "b", "4")},
			want: out{fields: []string{"http.x=string:2", "capstan.parse_error=string:e", "b=string:4"}}},
		{name: "set from a template", chain: "- {type: set, field: where, value: '${k8s.pod.name}/${a}/${nope}$$x$y'}\n", opts: abc,
			in:   in{fields: fields("a", "1"), source: src("k8s.pod.name", "api-1")},
			want: out{fields: []string{"a=string:1", "where=string:api-1/1/$x$y"}}},
		{name: "set from an expression keeps the type", chain: "- {type: set, field: n, expression: 'len(body) * 2'}\n",
			in: in{body: "abc"}, want: out{fields: []string{"n=int:6"}}},
		{name: "set the body", chain: "- {type: set, body: true, expression: 'upper(attrs.a) + \" \" + body'}\n", opts: abc,
			in: in{body: "x", fields: fields("a", "hi")}, want: out{body: str("HI x")}},
		{name: "set floats, bools, nil, lists", chain: "- {type: set, field: f, expression: '1.5 * 2'}\n- {type: set, field: b, expression: '1 < 2'}\n- {type: set, field: z, expression: 'nil'}\n- {type: set, field: l, expression: '[1, \"x\"]'}\n",
			want: out{fields: []string{"f=float:3", "b=bool:true", "z=null:", `l=json:[1,"x"]`}}},
		{name: "if skips the step", chain: "- {type: set, field: x, value: y, if: 'body == \"go\"'}\n",
			in: in{body: "stop"}, want: out{fields: []string{}}},
		{name: "if runs the step", chain: "- {type: set, field: x, value: y, if: 'body == \"go\"'}\n",
			in: in{body: "go"}, want: out{fields: []string{"x=string:y"}}},
	})
}

func TestFilterAndRoute(t *testing.T) {
	streams := Options{Streams: []string{"default", "prod", "debug"}, InputFields: []string{"level"}}
	route := `
- type: route
  cases:
    - {if: 'source["k8s.namespace.name"] startsWith "prod-"', stream: prod}
    - {if: 'attrs.level == "debug"', stream: debug}
  default: default
`
	runCases(t, []procCase{
		{name: "drop_if true drops", chain: "- {type: filter, drop_if: 'body contains \"/healthz\"'}\n",
			in: in{body: "GET /healthz"}, want: out{dropped: ReasonFilter}},
		{name: "drop_if false keeps", chain: "- {type: filter, drop_if: 'body contains \"/healthz\"'}\n",
			in: in{body: "GET /"}, want: out{body: str("GET /")}},
		{name: "keep_if false drops", chain: "- {type: filter, keep_if: 'attrs.level in [\"warn\", \"error\"]'}\n", opts: streams,
			in: in{fields: fields("level", "info")}, want: out{dropped: ReasonFilter}},
		{name: "keep_if on a missing field drops", chain: "- {type: filter, keep_if: 'attrs.level == \"error\"'}\n", opts: streams,
			want: out{dropped: ReasonFilter}},
		{name: "a failing condition keeps the record", chain: "- {type: filter, drop_if: 'attrs.level > 3'}\n", opts: streams,
			in: in{fields: fields("level", "info")}, want: out{fields: []string{"level=string:info"}}},
		{name: "route by the source", chain: route, opts: streams,
			in: in{source: src("k8s.namespace.name", "prod-eu")}, want: out{stream: "prod"}},
		{name: "route by a field", chain: route, opts: streams,
			in: in{fields: fields("level", "debug")}, want: out{stream: "debug"}},
		{name: "route default", chain: route, opts: streams,
			in: in{stream: "input"}, want: out{stream: "default"}},
		{name: "route by expression", chain: "- {type: route, expression: 'attrs.level == \"debug\" ? \"debug\" : \"prod\"'}\n", opts: streams,
			in: in{fields: fields("level", "debug")}, want: out{stream: "debug"}},
		{name: "route expression to an undeclared name falls back", chain: "- {type: route, expression: 'attrs.level', default: prod}\n", opts: streams,
			in: in{fields: fields("level", "nope")}, want: out{stream: "prod"}},
		{name: "route expression without a default keeps the stream", chain: "- {type: route, expression: 'attrs.level'}\n", opts: streams,
			in: in{stream: "default", fields: fields("level", "nope")}, want: out{stream: "default"}},
		{name: "route expression to a declared name from the record", chain: "- {type: route, expression: 'attrs.level'}\n", opts: streams,
			in: in{fields: fields("level", "debug")}, want: out{stream: "debug"}},
	})
}

func TestExpressionValues(t *testing.T) {
	opts := Options{InputFields: []string{"*"}}
	cases := []struct {
		expr string
		in   in
		want bool
	}{
		{`attrs.n == 200`, in{fields: []Field{{Key: []byte("n"), Value: []byte("200"), Kind: KindInt}}}, true},
		{`attrs.n > 1.5`, in{fields: []Field{{Key: []byte("n"), Value: []byte("2.5"), Kind: KindFloat}}}, true},
		{`attrs.ok`, in{fields: []Field{{Key: []byte("ok"), Value: []byte("true"), Kind: KindBool}}}, true},
		{`attrs.z == nil`, in{fields: []Field{{Key: []byte("z"), Kind: KindNull}}}, true},
		{`attrs.missing == nil`, in{}, true},
		{`attrs["a.b"] == "x"`, in{fields: fields("a.b", "x")}, true},
		{`source["host.name"] == "h1"`, in{source: src("host.name", "h1")}, true},
		{`time == 5`, in{time: 5}, true},
		{`stream == "s"`, in{stream: "s"}, true},
		{`"a" in attrs`, in{fields: fields("a", "1")}, true},
		{`len(keys(attrs)) == 2`, in{fields: fields("a", "1", "b", "2")}, true},
		{`fromJSON(attrs.j).k == 1`, in{fields: []Field{{Key: []byte("j"), Value: []byte(`{"k":1}`), Kind: KindJSON}}}, true},
		{`body matches "^GET /[a-z]+$"`, in{body: "GET /abc"}, true},
	}
	for _, tc := range cases {
		t.Run(tc.expr, func(t *testing.T) {
			c := chainOf(t, "- type: filter\n  keep_if: '"+tc.expr+"'\n", opts)
			// Twice on one runner: the second binding must not see the first.
			rn := c.NewRunner()
			for range 2 {
				var r Record
				r.Reset(tc.in.time, []byte(tc.in.body), tc.in.source, tc.in.stream, tc.in.fields...)
				if res := rn.Process(&r); res.Kept() != tc.want {
					t.Fatalf("kept %v, want %v", res.Kept(), tc.want)
				}
				var other Record
				other.Reset(0, []byte("zzz"), nil, "x", Field{Key: []byte("n"), Value: []byte("x")})
				rn.Process(&other)
			}
		})
	}
}
