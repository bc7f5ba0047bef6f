package batch

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestJSONString checks the escaper against encoding/json on every byte in
// every position of a 32-byte block, the words after it and the tail.
func TestJSONString(t *testing.T) {
	for c := 0; c < 256; c++ {
		for pos := range 48 {
			s := []byte(strings.Repeat("a", pos) + string([]byte{byte(c)}) + strings.Repeat("b", 48-pos))
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

// TestEscapeBits checks the word test against the byte table: every byte
// in every position among neighbours that need no escaping and that do (a
// borrow from a lower byte must not hide or invent one).
func TestEscapeBits(t *testing.T) {
	for _, fill := range []byte{'a', ' ', 0x7f, '!', '#', '[', ']', 0x00, 0x1f, '"', '\\', 0x80, 0xff} {
		for c := 0; c < 256; c++ {
			for pos := range 8 {
				w := bytes.Repeat([]byte{fill}, 8)
				w[pos] = byte(c)
				want := false
				for _, x := range w {
					want = want || !safe[x]
				}
				if got := escapeBits(binary.LittleEndian.Uint64(w)) != 0; got != want {
					t.Fatalf("%q: escapeBits says %v, the table %v", w, got, want)
				}
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

func TestValidValue(t *testing.T) {
	deep := strings.Repeat("[", MaxJSONDepth) + strings.Repeat("]", MaxJSONDepth)
	tests := []struct {
		kind Kind
		v    string
		ok   bool
	}{
		{KindString, "", true},
		{KindString, "\xff\x00 anything", true},
		{KindInt, "0", true},
		{KindInt, "-1", true},
		{KindInt, "9223372036854775807", true},
		{KindInt, "-9223372036854775808", true},
		{KindInt, "9223372036854775808", false},
		{KindInt, "-9223372036854775809", false},
		{KindInt, "99999999999999999999", false},
		{KindInt, "", false},
		{KindInt, "-", false},
		{KindInt, "-0", false},
		{KindInt, "01", false},
		{KindInt, "+1", false},
		{KindInt, "1.0", false},
		{KindInt, " 1", false},
		{KindInt, "1e3", false},
		{KindFloat, "0", true},
		{KindFloat, "-0", true},
		{KindFloat, "1.5", true},
		{KindFloat, "1e-7", true},
		{KindFloat, "1E+21", true},
		{KindFloat, "1e-400", true}, // underflows to 0: finite
		{KindFloat, "1e999", false},
		{KindFloat, "NaN", false},
		{KindFloat, "+Inf", false},
		{KindFloat, "Infinity", false},
		{KindFloat, "0x1p3", false},
		{KindFloat, "1_0", false},
		{KindFloat, ".5", false},
		{KindFloat, "5.", false},
		{KindFloat, "1e", false},
		{KindFloat, "", false},
		{KindBool, "true", true},
		{KindBool, "false", true},
		{KindBool, "True", false},
		{KindBool, "1", false},
		{KindBool, "", false},
		{KindNull, "", true},
		{KindNull, "null", false},
		{KindJSON, `{}`, true},
		{KindJSON, `[]`, true},
		{KindJSON, `{"a":1,"b":[true,false,null,"x\u00e9\n"],"c":{"d":-1.5e3}}`, true},
		{KindJSON, `[{},[],""]`, true},
		{KindJSON, deep, true},
		{KindJSON, "[" + deep + "]", false},
		{KindJSON, `{"a": 1}`, false}, // not compact
		{KindJSON, ` {}`, false},
		{KindJSON, `"str"`, false},
		{KindJSON, `1`, false},
		{KindJSON, `null`, false},
		{KindJSON, ``, false},
		{KindJSON, `{`, false},
		{KindJSON, `{"a":1,}`, false},
		{KindJSON, `[1,]`, false},
		{KindJSON, `{"a"}`, false},
		{KindJSON, `{1:2}`, false},
		{KindJSON, `[1]]`, false},
		{KindJSON, `[1}`, false},
		{KindJSON, `{]`, false},
		{KindJSON, `{}{}`, false},
		{KindJSON, `["\x"]`, false},
		{KindJSON, `["\u12g4"]`, false},
		{KindJSON, "[\"\x01\"]", false},
		{KindJSON, "[\"\xff\"]", false},
		{KindJSON, `[tru]`, false},
		{KindJSON, `[01]`, false},
		{Kind(6), "", false},
		{Kind(255), "x", false},
	}
	for _, tt := range tests {
		if got := ValidValue(tt.kind, []byte(tt.v)); got != tt.ok {
			t.Errorf("ValidValue(%s, %q) = %v, want %v", tt.kind, tt.v, got, tt.ok)
		}
	}
}

func TestAppendFloat(t *testing.T) {
	tests := []struct {
		f    float64
		want string
		kind Kind
	}{
		{0, "0", KindFloat},
		{math.Copysign(0, -1), "-0", KindFloat},
		{1, "1", KindFloat},
		{-1.5, "-1.5", KindFloat},
		{0.1, "0.1", KindFloat},
		{1e20, "100000000000000000000", KindFloat},
		{1e21, "1e+21", KindFloat},
		{1e-6, "0.000001", KindFloat},
		{1e-7, "1e-7", KindFloat},
		{123456789.125, "123456789.125", KindFloat},
		{math.MaxFloat64, "1.7976931348623157e+308", KindFloat},
		{math.SmallestNonzeroFloat64, "5e-324", KindFloat},
		{math.NaN(), "NaN", KindString},
		{math.Inf(1), "+Inf", KindString},
		{math.Inf(-1), "-Inf", KindString},
	}
	for _, tt := range tests {
		got, k := AppendFloat(nil, tt.f)
		if string(got) != tt.want || k != tt.kind {
			t.Errorf("AppendFloat(%v) = %q, %s; want %q, %s", tt.f, got, k, tt.want, tt.kind)
		}
		if k != KindFloat {
			continue
		}
		if !ValidValue(KindFloat, got) {
			t.Errorf("AppendFloat(%v) = %q is not a valid float", tt.f, got)
		}
		// The same text encoding/json writes, and it reads back exactly.
		if js, _ := json.Marshal(tt.f); string(js) != string(got) {
			t.Errorf("AppendFloat(%v) = %q, encoding/json writes %s", tt.f, got, js)
		}
		if back, _ := strconv.ParseFloat(string(got), 64); back != tt.f || math.Signbit(back) != math.Signbit(tt.f) {
			t.Errorf("AppendFloat(%v) = %q reads back as %v", tt.f, got, back)
		}
	}
}

func TestCompactJSON(t *testing.T) {
	tests := []struct{ in, want string }{
		{" { \"a\" : [ 1 , 2 ] ,\n\t\"b\\\" c\" : \"x y\" } \r\n", `{"a":[1,2],"b\" c":"x y"}`},
		{`[]`, `[]`},
		{"[ ]", `[]`},
		{`{"a":{}}`, `{"a":{}}`},
		{`[1 2]`, ""},
		{`[tr ue]`, ""},
		{`"s"`, ""},
		{` `, ""},
		{`{"a":1} x`, ""},
	}
	for _, tt := range tests {
		got, ok := CompactJSON([]byte("prefix:"), []byte(tt.in))
		if tt.want == "" {
			if ok || string(got) != "prefix:" {
				t.Errorf("CompactJSON(%q) = %q, %v; want refusal", tt.in, got, ok)
			}
			continue
		}
		if !ok || string(got) != "prefix:"+tt.want {
			t.Errorf("CompactJSON(%q) = %q, %v; want %q", tt.in, got, ok, tt.want)
		}
	}
}

// FuzzCompactJSON holds the validator to encoding/json: CompactJSON accepts
// exactly the objects and arrays encoding/json finds valid (in valid UTF-8,
// within MaxJSONDepth), its output is encoding/json's compact form, and that
// form is a valid KindJSON value.
func FuzzCompactJSON(f *testing.F) {
	for _, s := range []string{`{}`, `[ 1, "a", {"b": null} ]`, `{"a":[true,false]}`, `[1 2]`, `{"a":"\u00e9\ud800"}`,
		"[\"\xff\"]", `[-0.5e+10, 0, 1E2]`, strings.Repeat("[", 200) + strings.Repeat("]", 200)} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		got, ok := CompactJSON(nil, in)
		trimmed := bytes.TrimLeft(in, " \t\r\n")
		want := json.Valid(in) && utf8.Valid(in) && len(trimmed) > 0 && (trimmed[0] == '{' || trimmed[0] == '[') &&
			depth(in) <= MaxJSONDepth
		if ok != want {
			t.Fatalf("CompactJSON(%q) ok=%v, encoding/json says %v", in, ok, want)
		}
		if !ok {
			return
		}
		var c bytes.Buffer
		if err := json.Compact(&c, in); err != nil || c.String() != string(got) {
			t.Fatalf("CompactJSON(%q) = %q, json.Compact = %q (%v)", in, got, c.String(), err)
		}
		if !ValidValue(KindJSON, got) {
			t.Fatalf("compact %q is not a valid KindJSON value", got)
		}
	})
}

// depth is the deepest nesting of brackets outside strings in valid JSON.
func depth(b []byte) int {
	d, max, inString, escaped := 0, 0, false, false
	for _, c := range b {
		switch {
		case inString && escaped:
			escaped = false
		case inString && c == '\\':
			escaped = true
		case inString && c == '"':
			inString = false
		case inString:
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			if d++; d > max {
				max = d
			}
		case c == '}' || c == ']':
			d--
		}
	}
	return max
}

func TestAppendJSONValue(t *testing.T) {
	tests := []struct {
		a    Attr
		want string
	}{
		{StringAttr("k", "a\"b\xff"), `"a\"b\ufffd"`},
		{IntAttr("k", -42), `-42`},
		{FloatAttr("k", 2.5), `2.5`},
		{FloatAttr("k", math.NaN()), `"NaN"`},
		{BoolAttr("k", true), `true`},
		{NullAttr("k"), `null`},
		{JSONAttr("k", `{"a":[1]}`), `{"a":[1]}`},
		{Attr{Value: []byte("x"), Kind: Kind(9)}, `"x"`},
	}
	for _, tt := range tests {
		if got := AppendJSONValue(nil, tt.a); string(got) != tt.want {
			t.Errorf("AppendJSONValue(%s %q) = %s, want %s", tt.a.Kind, tt.a.Value, got, tt.want)
		}
	}
}

func TestAttrAccessors(t *testing.T) {
	if v, ok := IntAttr("k", math.MinInt64).Int(); !ok || v != math.MinInt64 {
		t.Errorf("Int: %d %v", v, ok)
	}
	if f, ok := FloatAttr("k", -2.5e-300).Float(); !ok || f != -2.5e-300 {
		t.Errorf("Float: %v %v", f, ok)
	}
	if f, ok := (Attr{Value: []byte("1e-400"), Kind: KindFloat}).Float(); !ok || f != 0 {
		t.Errorf("Float of an underflow: %v %v", f, ok)
	}
	if v, ok := BoolAttr("k", true).Bool(); !ok || !v {
		t.Errorf("Bool(true): %v %v", v, ok)
	}
	if v, ok := BoolAttr("k", false).Bool(); !ok || v {
		t.Errorf("Bool(false): %v %v", v, ok)
	}
	for _, a := range []Attr{StringAttr("k", "1"), {Value: []byte("1x"), Kind: KindInt}, FloatAttr("k", 1)} {
		if _, ok := a.Int(); ok {
			t.Errorf("Int of %s %q is ok", a.Kind, a.Value)
		}
	}
	for _, a := range []Attr{IntAttr("k", 1), {Value: []byte("1e999"), Kind: KindFloat}} {
		if _, ok := a.Float(); ok {
			t.Errorf("Float of %s %q is ok", a.Kind, a.Value)
		}
	}
	for _, a := range []Attr{StringAttr("k", "true"), {Value: []byte("t"), Kind: KindBool}} {
		if _, ok := a.Bool(); ok {
			t.Errorf("Bool of %s %q is ok", a.Kind, a.Value)
		}
	}
}

func TestValidateAllocatesNothing(t *testing.T) {
	long := []byte(`{"a":[1,2.5e-3,"` + strings.Repeat("é", 100) + `"],"b":{"c":null,"d":true}}`)
	num := []byte("-1234.5678901234567e-12")
	var dst []byte
	allocs := testing.AllocsPerRun(100, func() {
		ValidValue(KindJSON, long)
		ValidValue(KindFloat, num)
		ValidValue(KindInt, []byte("-9223372036854775808"))
		dst, _ = CompactJSON(dst[:0], long)
		dst = AppendJSONValue(dst[:0], Attr{Value: long, Kind: KindString})
		Attr{Value: num, Kind: KindFloat}.Float()
		Attr{Value: []byte("-9223372036854775808"), Kind: KindInt}.Int()
	})
	if allocs != 0 {
		t.Fatalf("%v allocations", allocs)
	}
}

// BenchmarkAppendJSONString: a 200-byte log line of plain ASCII, as most
// are, and one with a quote in every forty bytes; per line.
func BenchmarkAppendJSONString(b *testing.B) {
	plain := []byte(strings.Repeat("2026-05-01T10:00:00Z GET /api/v1/items 200 ", 5)[:200])
	quoted := []byte(strings.Repeat(`level=info msg="GET /api/v1/items" ms=1 `, 5)[:200])
	for _, tc := range []struct {
		name string
		line []byte
	}{{"plain", plain}, {"quoted", quoted}} {
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(int64(len(tc.line)))
			var out []byte
			for range b.N {
				out = AppendJSONString(out[:0], tc.line)
			}
		})
	}
}
