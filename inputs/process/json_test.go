package process

import (
	"strings"
	"testing"
)

func TestJSON(t *testing.T) {
	merge := "- type: json\n  merge: true\n"
	runCases(t, []procCase{
		{name: "scalars", chain: merge,
			in:   in{body: `{"a":"x","n":1,"f":1.50,"b":true,"z":null,"neg":-7}`},
			want: out{fields: []string{"a=string:x", "n=int:1", "f=float:1.5", "b=bool:true", "z=null:", "neg=int:-7"}}},
		{name: "nested objects flatten, arrays stay JSON, whitespace goes", chain: merge,
			in: in{body: `{ "http" : { "status" : 200, "req": {"path": "/"} }, "tags": [ "a", {"b" : [1, 2]} ], "e": {} }`},
			want: out{fields: []string{"http.status=int:200", "http.req.path=string:/",
				`tags=json:["a",{"b":[1,2]}]`, "e=json:{}"}}},
		{name: "flatten off keeps objects", chain: merge + "  flatten: false\n",
			in:   in{body: `{"http":{"status":200, "ok":true}}`},
			want: out{fields: []string{`http=json:{"status":200,"ok":true}`}}},
		{name: "escapes", chain: merge,
			in:   in{body: `{"m":"a\"b\\c\/\u00e9\ud83d\ude00\n\t","k\u0041":1,"lone":"\ud800x"}`},
			want: out{fields: []string{"m=string:a\"b\\c/é😀\n\t", "kA=int:1", "lone=string:\uFFFDx"}}},
		{name: "strings inside compacted values keep their spaces and escapes", chain: merge,
			in:   in{body: `{"a": [ "x y", "q\" ]" ]}`},
			want: out{fields: []string{`a=json:["x y","q\" ]"]`}}},
		{name: "numbers are canonical", chain: merge,
			in: in{body: `{"a":-0,"b":1e3,"c":12345678901234567890,"d":1.0,"e":0.0000001,"f":0.000001,"g":1E+2,"h":-0.0,"i":123456789012345.6,"j":1e400}`},
			want: out{fields: []string{"a=int:0", "b=float:1000", "c=float:12345678901234567000", "d=float:1",
				"e=float:1e-7", "f=float:0.000001", "g=float:100", "h=float:-0", "i=float:123456789012345.6", "j=string:1e400"}}},
		{name: "target prefixes", chain: merge + "  target: app\n",
			in:   in{body: `{"a":1,"b":{"c":2}}`},
			want: out{fields: []string{"app.a=int:1", "app.b.c=int:2"}}},
		{name: "without merge the value goes to target", chain: "- type: json\n  target: payload\n",
			in:   in{body: ` [1, 2] `},
			want: out{fields: []string{"payload=json:[1,2]"}}},
		{name: "without merge a scalar keeps its kind", chain: "- type: json\n  target: payload\n",
			in:   in{body: `"x\ty"`},
			want: out{fields: []string{"payload=string:x\ty"}}},
		{name: "body_from", chain: merge + "  body_from: msg\n",
			in:   in{body: `{"level":"info","msg":"hello"}`},
			want: out{body: str("hello"), fields: []string{"level=string:info"}}},
		{name: "body_from that is not a string stays a field", chain: merge + "  body_from: msg\n",
			in:   in{body: `{"msg":{"a":1}}`},
			want: out{body: str(`{"msg":{"a":1}}`), fields: []string{"msg.a=int:1"}}},
		{name: "a field, removed once parsed", chain: merge + "  field: log\n  remove: true\n",
			opts: Options{InputFields: []string{"stream", "log"}},
			in:   in{body: "raw", fields: fields("stream", "stdout", "log", `{"a":1}`)},
			want: out{body: str("raw"), fields: []string{"stream=string:stdout", "a=int:1"}}},
		{name: "duplicate keys: the last wins, in the first's place", chain: merge,
			in:   in{body: `{"a":1,"b":2,"a":3}`, fields: fields("b", "old")},
			want: out{fields: []string{"b=int:2", "a=int:3"}}},
		{name: "invalid UTF-8 is kept as it is", chain: merge,
			in:   in{body: "{\"a\":\"\xff\xfe\"}"},
			want: out{fields: []string{"a=string:\xff\xfe"}}},
		{name: "syntax error is flagged, record kept", chain: merge,
			in:   in{body: `{"a":}`},
			want: out{body: str(`{"a":}`), fields: []string{"capstan.parse_error=string:processors[0] json: syntax error at byte 5"}}},
		{name: "nothing is half parsed", chain: merge,
			in:   in{body: `{"a":1,"b":2,`, fields: fields("x", "1")},
			want: out{fields: []string{"x=string:1", "capstan.parse_error=string:processors[0] json: syntax error at byte 13"}}},
		{name: "not an object", chain: merge,
			in:   in{body: `[1]`},
			want: out{fields: []string{"capstan.parse_error=string:processors[0] json: not an object at byte 0"}}},
		{name: "trailing garbage", chain: merge,
			in:   in{body: `{"a":1} x`},
			want: out{fields: []string{"capstan.parse_error=string:processors[0] json: syntax error at byte 8"}}},
		{name: "raw control character in a string", chain: merge,
			in:   in{body: "{\"a\":\"x\ny\"}"},
			want: out{fields: []string{"capstan.parse_error=string:processors[0] json: syntax error at byte 7"}}},
		{name: "too deep", chain: merge + "  max_depth: 3\n",
			in:   in{body: `{"a":{"b":[[1]]}}`},
			want: out{fields: []string{"capstan.parse_error=string:processors[0] json: nesting too deep at byte 11"}}},
		{name: "deep but within bounds", chain: merge + "  max_depth: 4\n",
			in:   in{body: `{"a":{"b":[[1]]}}`},
			want: out{fields: []string{"a.b=json:[[1]]"}}},
		{name: "too many fields", chain: merge + "  max_fields: 2\n",
			in:   in{body: `{"a":1,"b":2,"c":3}`},
			want: out{fields: []string{"capstan.parse_error=string:processors[0] json: too many fields at byte 18"}}},
		{name: "a long flattened key stops flattening", chain: merge + "  max_key_bytes: 5\n",
			in:   in{body: `{"ab":{"cd":{"e":1}}}`},
			want: out{fields: []string{`ab.cd=json:{"e":1}`}}},
		{name: "on_error drop", chain: merge + "  on_error: drop\n",
			in: in{body: `nope`}, want: out{dropped: ReasonParseError}},
		{name: "on_error keep", chain: merge + "  on_error: keep\n",
			in: in{body: `nope`}, want: out{fields: []string{}}},
		{name: "the first failure is the one flagged", chain: merge + merge,
			in:   in{body: `nope`},
			want: out{fields: []string{"capstan.parse_error=string:processors[0] json: not an object at byte 0"}}},
		{name: "a missing field is a failure", chain: merge + "  field: log\n",
			opts: Options{InputFields: []string{"log"}},
			in:   in{body: `{}`},
			want: out{fields: []string{"capstan.parse_error=string:processors[0] json: field missing"}}},
		{name: "empty body", chain: merge,
			in:   in{body: ``},
			want: out{fields: []string{"capstan.parse_error=string:processors[0] json: not an object at byte 0"}}},
	})
}

// TestJSONLimits feeds lines a hostile sender would: 10 MiB, deeply
// nested, many fields. Each is parsed or refused without panic, and the
// record's memory stays within a small multiple of the line.
func TestJSONLimits(t *testing.T) {
	c := chainOf(t, "- type: json\n  merge: true\n", Options{})
	rn := c.NewRunner()
	big := `{"msg":"` + strings.Repeat("x", 10<<20) + `","n":1}`
	deep := strings.Repeat(`{"a":`, 100000) + "1" + strings.Repeat("}", 100000)
	deepArr := `{"a":` + strings.Repeat("[", 1<<20) + strings.Repeat("]", 1<<20) + "}"
	var many strings.Builder
	many.WriteString("{")
	for i := range 200000 {
		if i > 0 {
			many.WriteString(",")
		}
		many.WriteString(`"k":1`)
	}
	many.WriteString("}")
	longKeys := `{"` + strings.Repeat("k", 1<<20) + `":{"` + strings.Repeat("j", 1<<20) + `":1}}`
	for _, tc := range []struct {
		name, line string
		flagged    bool
	}{
		{"10 MiB line", big, false},
		{"100000 nested objects", deep, true},
		{"a million nested arrays", deepArr, true},
		{"200000 fields", many.String(), true},
		{"1 MiB keys", longKeys, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r Record
			r.Reset(0, []byte(tc.line), nil, "s")
			rn.Process(&r)
			_, flagged := r.Get("capstan.parse_error")
			if flagged != tc.flagged {
				t.Fatalf("flagged %v, want %v (fields %d)", flagged, tc.flagged, len(r.Fields))
			}
			if cap(r.arena) > 3*len(tc.line)+64<<10 {
				t.Fatalf("arena grew to %d bytes for a %d-byte line", cap(r.arena), len(tc.line))
			}
		})
	}
}
