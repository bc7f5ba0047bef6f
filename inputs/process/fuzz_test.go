package process

import (
	"bytes"
	"encoding/json"
	"runtime"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// jsonDepth is the nesting depth of valid JSON text.
func jsonDepth(b []byte) int {
	depth, max, in := 0, 0, false
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case in && c == '\\':
			i++
		case c == '"':
			in = !in
		case !in && (c == '{' || c == '['):
			depth++
			max = maxInt(max, depth)
		case !in && (c == '}' || c == ']'):
			depth--
		}
	}
	return max
}

func maxInt(a, b int) int {
	if a > b {
		return a
	}
	return b
}

// FuzzJSON checks the JSON parser against encoding/json: it accepts
// exactly the valid objects within its bounds, every value it stores is
// canonical, and string values are what encoding/json reads.
func FuzzJSON(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `{"a":{"b":[1,"x",{"c":null}]},"d":"\u00e9\n"}`, `{"n":-0.0e+1}`,
		`[1]`, `{"a":"\ud83d\ude00"}`, `{ "a" : [ ] , "b" : { } }`, `{"a":1,}`, "{\"a\":\"\xff\"}"} {
		f.Add([]byte(s), true)
	}
	c1 := chainOf(f, "- {type: json, merge: true, max_depth: 8, on_error: keep}\n", Options{})
	c2 := chainOf(f, "- {type: json, merge: true, flatten: false, max_depth: 8, on_error: keep}\n", Options{})
	r1, r2 := c1.NewRunner(), c2.NewRunner()
	f.Fuzz(func(t *testing.T, line []byte, flatten bool) {
		rn := r2
		if flatten {
			rn = r1
		}
		var r Record
		r.Reset(0, line, nil, "s")
		rn.Process(&r)
		rn.Flush()
		parsed := rn.c.nodes[0].stats.ParseErrors.Load()
		// An empty object is accepted with no fields: "{}" within JSON's
		// whitespace (not Unicode's: "{}\f" is not JSON).
		ok := len(r.Fields) > 0 || bytes.Equal(bytes.Trim(line, " \t\n\r"), []byte("{}"))
		var obj map[string]json.RawMessage
		valid := json.Unmarshal(line, &obj) == nil && obj != nil && jsonDepth(line) <= 8 && utf8.Valid(line)
		if valid && !ok && len(obj) > 0 {
			t.Fatalf("valid object refused: %q (parse errors %d)", line, parsed)
		}
		if ok && !json.Valid(line) {
			t.Fatalf("invalid JSON accepted: %q -> %v", line, fieldList(&r))
		}
		for _, fl := range r.Fields {
			switch fl.Kind {
			case KindJSON:
				if utf8.Valid(line) && !json.Valid(fl.Value) {
					t.Fatalf("field %s holds invalid JSON %q", fl.Key, fl.Value)
				}
				if bytes.ContainsAny(fl.Value, " \t\n\r") && !bytes.Contains(fl.Value, []byte(`"`)) {
					t.Fatalf("field %s not compact: %q", fl.Key, fl.Value)
				}
			case KindInt:
				if _, ok := parseInt(fl.Value); !ok {
					t.Fatalf("int field %s = %q", fl.Key, fl.Value)
				}
			case KindFloat:
				x, ok := parseFloat(fl.Value)
				if !ok || string(appendFloat(nil, x)) != string(fl.Value) {
					t.Fatalf("float field %s = %q is not canonical", fl.Key, fl.Value)
				}
			case KindString:
				if v, ok := obj[string(fl.Key)]; ok && valid && !flatten {
					var s string
					if json.Unmarshal(v, &s) == nil && s != string(fl.Value) && utf8.Valid(fl.Value) {
						t.Fatalf("field %s = %q, encoding/json reads %q", fl.Key, fl.Value, s)
					}
				}
			}
		}
	})
}

// FuzzRegex runs an nginx pattern over any bytes: groups are slices of the
// input, converted ints are canonical.
func FuzzRegex(f *testing.F) {
	f.Add([]byte(`203.0.113.9 - - [01/May/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 12 "-" "curl"`))
	f.Add([]byte(`1 - - [x] "a b c" 999 007`))
	c := chainOf(f, "- type: regex\n  pattern: '"+nginxPattern+"'\n  types: {status: int, bytes: int}\n", Options{})
	rn := c.NewRunner()
	f.Fuzz(func(t *testing.T, line []byte) {
		var r Record
		r.Reset(0, line, nil, "s")
		rn.Process(&r)
		for _, fl := range r.Fields {
			if fl.Kind == KindInt {
				n, ok := parseInt(fl.Value)
				if !ok || string(appendInt(nil, n)) != string(fl.Value) {
					t.Fatalf("%s = %q is not a canonical int", fl.Key, fl.Value)
				}
			} else if !isCapstanKey(fl.Key) && !bytes.Contains(line, fl.Value) {
				t.Fatalf("%s = %q is not from the line", fl.Key, fl.Value)
			}
		}
	})
}

// FuzzLogfmt: any bytes parse or fail whole; keys are never empty and
// contain no space, = or quote.
func FuzzLogfmt(f *testing.F) {
	for _, s := range []string{`a=1 b="x y" c`, `a="\u00e9\"" b=`, `"x`, `a=b=c`, "k=\"\\"} {
		f.Add([]byte(s))
	}
	c := chainOf(f, "- {type: logfmt, types: {a: int}}\n", Options{})
	rn := c.NewRunner()
	f.Fuzz(func(t *testing.T, line []byte) {
		var r Record
		r.Reset(0, line, nil, "s")
		rn.Process(&r)
		_, failed := r.Get("capstan.parse_error")
		for _, fl := range r.Fields {
			if isCapstanKey(fl.Key) {
				continue
			}
			if failed {
				t.Fatalf("failed parse left field %s", fl.Key)
			}
			if len(fl.Key) == 0 || bytes.ContainsAny(fl.Key, " =\"") {
				t.Fatalf("bad key %q", fl.Key)
			}
		}
	})
}

// FuzzTimestamp: any value with every layout; the RFC 3339 parser agrees
// with the time package wherever both succeed, and succeeds wherever the
// time package does on strict RFC 3339 (the time package also takes a
// one-digit hour, which RFC 3339 does not).
func FuzzTimestamp(f *testing.F) {
	for _, s := range []string{"2026-05-01T10:00:00.123Z", "2026-05-01 10:00:00+0200", "1777629600.5",
		"01/May/2026:10:00:00 +0000", "Feb 29 00:00:00", "0000-01-01T00:00:00Z", "-1.5"} {
		f.Add([]byte(s))
	}
	c := chainOf(f, `
- type: timestamp
  field: t
  layouts: [rfc3339, epoch_s, epoch_ms, epoch_us, epoch_ns, common_log, syslog, rfc1123z, '2006/01/02 15:04:05.000']
  timezone: Europe/Berlin
`, Options{InputFields: []string{"t"}})
	rn := c.NewRunner()
	f.Fuzz(func(t *testing.T, v []byte) {
		var r Record
		r.Reset(1, nil, nil, "s", Field{Key: []byte("t"), Value: v})
		rn.Process(&r)
		want, err := time.Parse(time.RFC3339Nano, string(v))
		if err != nil || want.Year() < 1678 || want.Year() > 2261 {
			return
		}
		got, ok := parseISO(v, time.UTC)
		strict := len(v) >= 20 && v[13] == ':' && v[16] == ':' && validOffset(v)
		if (ok || strict) && (!ok || got != want.UnixNano()) {
			t.Fatalf("%q: parseISO %d %v, time.Parse %d", v, got, ok, want.UnixNano())
		}
	})
}

// validOffset tells whether v's zone offset, if it has one, has minutes
// under 60: the time package takes "+00:60", RFC 3339 does not (the parser
// refuses it, which is right).
func validOffset(v []byte) bool {
	n := len(v)
	if n >= 6 && (v[n-6] == '+' || v[n-6] == '-') && v[n-3] == ':' {
		return v[n-2] < '6'
	}
	return true
}

// FuzzExpr evaluates any expression that compiles on any record: it never
// panics out of Process, and one evaluation allocates boundedly.
func FuzzExpr(f *testing.F) {
	for _, s := range []string{`attrs.a == "x"`, `body contains "k" && time > 0`, `len(attrs.a) > 3 ? upper(body) : lower(body)`,
		`1..1000000 | map(# * 2) | len() > 0`, `repeat(body, 1000000) != ""`, `fromJSON(attrs.a).x == 1`, `int(attrs.n) / 0 > 1`,
		`attrs.n + attrs.a`, `source["k8s.pod.name"] matches "^api-"`, `keys(attrs)[0] == "a"`, `toJSON(attrs) + body`} {
		f.Add(s, []byte("body"), []byte(`{"x":1}`), uint8(KindString))
	}
	f.Fuzz(func(t *testing.T, src string, body, value []byte, kind uint8) {
		c, err := buildYAML("- type: set\n  field: out\n  expression: '"+strings.ReplaceAll(src, "'", "''")+"'\n", Options{InputFields: []string{"*"}})
		if err != nil {
			return
		}
		rn := c.NewRunner()
		var r Record
		r.Reset(5, body, src2("k8s.pod.name", "api-1"), "s",
			Field{Key: []byte("a"), Value: value, Kind: Kind(kind % 6)}, Field{Key: []byte("n"), Value: value, Kind: KindInt})
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		rn.Process(&r)
		runtime.ReadMemStats(&after)
		if grown := after.TotalAlloc - before.TotalAlloc; grown > 512<<20 {
			t.Fatalf("%q allocated %d MiB", src, grown>>20)
		}
	})
}

func src2(k, v string) []Field { return src(k, v) }
