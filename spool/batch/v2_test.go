package batch

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"syscall"
	"testing"
	"time"
)

const goldenV2Path = "../../testdata/batch/v2.golden"

// goldenBatchV2 is the batch pinned by testdata/batch/v2.golden: every kind,
// in source and record attributes and as a body.
func goldenBatchV2() []byte {
	var b Builder
	b.ResetV2(0x0102030405060708, 1_700_000_000_100_000_000, []Attr{StringAttr("input", "app"), IntAttr("pid", 4242)})
	b.Add(1_700_000_000_000_000_000, []byte("first line"))
	b.AddWithAttrs(1_700_000_000_000_000_500, []byte(`{"level":"warn","status":503}`), []Attr{
		StringAttr("level", "warn"),
		IntAttr("status", 503),
		FloatAttr("duration", 0.25),
		BoolAttr("cached", false),
		NullAttr("user"),
		JSONAttr("req", `{"method":"GET","headers":["a","b"]}`),
		StringAttr("raw", "bad\xffutf8"),
	})
	b.AddRecord(1_699_999_999_999_999_000, KindJSON, []byte(`{"msg":"hi","n":[1,2]}`), nil)
	b.SetSequence(4096)
	out := b.Bytes()
	SetBaseOffset(out, 42)
	return bytes.Clone(out)
}

// attrsJSON renders an attribute iterator as a JSON object, the way a JSON
// encoder would.
func attrsJSON(it AttrIter) string {
	out := []byte{'{'}
	for a, ok := it.NextAttr(); ok; a, ok = it.NextAttr() {
		if len(out) > 1 {
			out = append(out, ',')
		}
		out = AppendJSONString(out, a.Key)
		out = append(out, ':')
		out = AppendJSONValue(out, a)
	}
	return string(append(out, '}'))
}

func TestGoldenV2(t *testing.T) {
	want := checkGolden(t, goldenV2Path, goldenBatchV2())
	bt, n, err := Decode(want)
	if err != nil || n != len(want) {
		t.Fatalf("decode golden: n=%d err=%v", n, err)
	}
	h := bt.Header
	if h.Magic != MagicV2 || h.BaseOffset != 42 || h.Count != 3 || h.Producer != 0x0102030405060708 || h.Sequence != 4096 ||
		h.FirstTimestamp != 1_700_000_000_000_000_000 || h.MaxTimestamp != 1_700_000_000_000_000_500 ||
		bt.ObservedTime != 1_700_000_000_100_000_000 {
		t.Fatalf("header: %+v, observed %d", h, bt.ObservedTime)
	}
	if got := attrsJSON(bt.SourceAttrs()); got != `{"input":"app","pid":4242}` {
		t.Fatalf("source attributes %s", got)
	}
	type rec struct {
		off   uint64
		ts    int64
		kind  Kind
		body  string
		attrs string
	}
	want2 := []rec{
		{42, 1_700_000_000_000_000_000, KindString, "first line", `{}`},
		{43, 1_700_000_000_000_000_500, KindString, `{"level":"warn","status":503}`,
			`{"level":"warn","status":503,"duration":0.25,"cached":false,"user":null,"req":{"method":"GET","headers":["a","b"]},"raw":"bad\ufffdutf8"}`},
		{44, 1_699_999_999_999_999_000, KindJSON, `{"msg":"hi","n":[1,2]}`, `{}`},
	}
	it := bt.Records()
	var r Record
	i := 0
	for ; it.Next(&r); i++ {
		w := want2[i]
		attrs := attrsJSON(r.Attrs())
		if r.Offset != w.off || r.Timestamp != w.ts || r.BodyKind != w.kind || string(r.Body) != w.body ||
			r.ObservedTime != bt.ObservedTime || attrs != w.attrs {
			t.Fatalf("record %d: %+v attrs %s, want %+v", i, r, attrs, w)
		}
		if !json.Valid([]byte(attrs)) {
			t.Fatalf("record %d: attributes are not JSON: %s", i, attrs)
		}
	}
	if it.Err() != nil || i != 3 {
		t.Fatalf("%d records, %v", i, it.Err())
	}
}

// Every reader reads every version: the v1 golden batch still decodes next
// to v2, in one run of batches, as a receiving spool holds them.
func TestMixedVersions(t *testing.T) {
	v1, v2 := goldenBatch(), goldenBatchV2()
	run := append(append(bytes.Clone(v1), v2...), v1...)
	var magics []byte
	for b := run; len(b) > 0; {
		bt, n, err := Decode(b)
		if err != nil {
			t.Fatalf("at %d: %v", len(run)-len(b), err)
		}
		magics = append(magics, bt.Magic)
		b = b[n:]
	}
	if string(magics) != "\x01\x02\x01" {
		t.Fatalf("versions %v", magics)
	}
}

// Each kind, as a source and as a record attribute, and as a body, survives
// build → decode → JSON; a v1 builder keeps the text and counts the kind lost.
func TestKindsRoundTrip(t *testing.T) {
	tests := []struct {
		a    Attr
		json string
	}{
		{StringAttr("s", "plain"), `"plain"`},
		{StringAttr("s", ""), `""`},
		{StringAttr("s", "tab\t\"q\" \xff é \u2028"), `"tab\t\"q\" \ufffd é \u2028"`},
		{IntAttr("i", 0), `0`},
		{IntAttr("i", math.MinInt64), `-9223372036854775808`},
		{IntAttr("i", math.MaxInt64), `9223372036854775807`},
		{FloatAttr("f", 3), `3`},
		{FloatAttr("f", -0.000123), `-0.000123`},
		{FloatAttr("f", 6.02214076e23), `6.02214076e+23`},
		{FloatAttr("f", math.Inf(1)), `"+Inf"`},
		{BoolAttr("b", true), `true`},
		{BoolAttr("b", false), `false`},
		{NullAttr("n"), `null`},
		{JSONAttr("j", `{}`), `{}`},
		{JSONAttr("j", `[1,"two",{"three":[3.0,null]}]`), `[1,"two",{"three":[3.0,null]}]`},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s %s", tt.a.Kind, tt.json), func(t *testing.T) {
			var b Builder
			b.ResetV2(7, 99, []Attr{tt.a})
			b.AddWithAttrs(1, []byte("body"), []Attr{tt.a})
			b.AddRecord(2, tt.a.Kind, tt.a.Value, nil)
			if b.Demoted() != 0 {
				t.Fatalf("%d demoted", b.Demoted())
			}
			bt := decodeOne(t, b.Bytes())
			sa := bt.SourceAttrs()
			got, _ := sa.NextAttr()
			checkAttr(t, "source", got, tt.a, tt.json)
			it := bt.Records()
			var r Record
			it.Next(&r)
			ra := r.Attrs()
			got, _ = ra.NextAttr()
			checkAttr(t, "record", got, tt.a, tt.json)
			it.Next(&r)
			checkAttr(t, "body", r.BodyValue(), Attr{Value: tt.a.Value, Kind: tt.a.Kind}, tt.json)

			b.Reset(7, []Attr{tt.a})
			b.AddWithAttrs(1, []byte("body"), []Attr{tt.a})
			b.AddRecord(2, tt.a.Kind, tt.a.Value, nil)
			want := 3 // the source attribute, the record's and the body
			if tt.a.Kind == KindString {
				want = 0
			}
			if b.Demoted() != want {
				t.Fatalf("v1: %d demoted, want %d", b.Demoted(), want)
			}
			bt = decodeOne(t, b.Bytes())
			sa = bt.SourceAttrs()
			got, _ = sa.NextAttr()
			if bt.Magic != MagicV1 || got.Kind != KindString || !bytes.Equal(got.Value, tt.a.Value) {
				t.Fatalf("v1 keeps %s %q, want the string %q", got.Kind, got.Value, tt.a.Value)
			}
		})
	}
}

func decodeOne(t *testing.T, b []byte) Batch {
	t.Helper()
	bt, n, err := Decode(b)
	if err != nil || n != len(b) {
		t.Fatalf("decode: n=%d of %d, %v", n, len(b), err)
	}
	return bt
}

func checkAttr(t *testing.T, where string, got, want Attr, js string) {
	t.Helper()
	if string(got.Key) != string(want.Key) || got.Kind != want.Kind || !bytes.Equal(got.Value, want.Value) {
		t.Fatalf("%s: got %q %s %q, want %q %s %q", where, got.Key, got.Kind, got.Value, want.Key, want.Kind, want.Value)
	}
	if s := AppendJSONValue(nil, got); string(s) != js || !json.Valid(s) {
		t.Fatalf("%s: JSON %s, want %s", where, s, js)
	}
}

// A value not valid for its kind is stored as the string of the same bytes,
// and counted: the builder never writes what Decode refuses.
func TestBuilderDemotesInvalidValues(t *testing.T) {
	bad := []Attr{
		{Key: []byte("i"), Value: []byte("12x"), Kind: KindInt},
		{Key: []byte("f"), Value: []byte("NaN"), Kind: KindFloat},
		{Key: []byte("b"), Value: []byte("yes"), Kind: KindBool},
		{Key: []byte("n"), Value: []byte("null"), Kind: KindNull},
		{Key: []byte("j"), Value: []byte(`{"a": 1}`), Kind: KindJSON},
		{Key: []byte("d"), Value: []byte(strings.Repeat("[", MaxJSONDepth+1) + strings.Repeat("]", MaxJSONDepth+1)), Kind: KindJSON},
		{Key: []byte("k"), Value: []byte("x"), Kind: Kind(42)},
	}
	var b Builder
	b.ResetV2(0, 0, bad[:1])
	b.AddWithAttrs(1, []byte("x"), bad)
	b.AddRecord(2, KindJSON, []byte("not json"), nil)
	if b.Demoted() != 1+len(bad)+1 {
		t.Fatalf("demoted %d, want %d", b.Demoted(), 1+len(bad)+1)
	}
	bt := decodeOne(t, b.Bytes())
	it := bt.Records()
	var r Record
	it.Next(&r)
	ai := r.Attrs()
	for i := 0; ; i++ {
		a, ok := ai.NextAttr()
		if !ok {
			break
		}
		if a.Kind != KindString || !bytes.Equal(a.Value, bad[i].Value) {
			t.Fatalf("attribute %q: %s %q", a.Key, a.Kind, a.Value)
		}
	}
	it.Next(&r)
	if r.BodyKind != KindString || string(r.Body) != "not json" {
		t.Fatalf("body %s %q", r.BodyKind, r.Body)
	}
	b.ResetV2(0, 0, nil)
	if b.Demoted() != 0 {
		t.Fatal("Reset does not clear Demoted")
	}
}

// patch replaces the one occurrence of old in b by new (same length) and
// re-signs the batch, so that only the record section is wrong.
func patch(t *testing.T, b []byte, old, new string) []byte {
	t.Helper()
	if len(old) != len(new) || bytes.Count(b, []byte(old)) != 1 {
		t.Fatalf("patch %q: %d occurrences", old, bytes.Count(b, []byte(old)))
	}
	i := bytes.Index(b, []byte(old))
	copy(b[i:], new)
	return fixCRC(b)
}

func TestDecodeRejectsV2(t *testing.T) {
	build := func() []byte {
		var b Builder
		b.ResetV2(1, 5, []Attr{IntAttr("srcint", 1111)})
		b.AddWithAttrs(1, []byte("b"), []Attr{
			IntAttr("int", 2222), FloatAttr("float", 1.5), BoolAttr("bool", true), NullAttr("null"),
			JSONAttr("json", `{"k":[1]}`), StringAttr("str", "v"),
		})
		b.AddRecord(2, KindJSON, []byte(`[33]`), nil)
		return bytes.Clone(b.Bytes())
	}
	tests := []struct {
		name string
		mut  func([]byte) []byte
		want error
		msg  string // what the error must say
	}{
		{"source int", func(b []byte) []byte { return patch(t, b, "1111", "11x1") }, ErrMalformed, "source attributes: batch: malformed record section: attribute 0: value is not a valid int"},
		{"int", func(b []byte) []byte { return patch(t, b, "2222", "0222") }, ErrMalformed, "attribute 0: value is not a valid int"},
		{"float", func(b []byte) []byte { return patch(t, b, "1.5", "1.x") }, ErrMalformed, "attribute 1: value is not a valid float"},
		{"float inf", func(b []byte) []byte { return patch(t, b, "\x02\x031.5", "\x02\x03Inf") }, ErrMalformed, "not a valid float"},
		{"bool", func(b []byte) []byte { return patch(t, b, "true", "True") }, ErrMalformed, "attribute 2: value is not a valid bool"},
		{"null with a value", func(b []byte) []byte { return patch(t, b, "str\x00\x01v", "str\x04\x01v") }, ErrMalformed, "attribute 5: value is not a valid null"},
		{"json", func(b []byte) []byte { return patch(t, b, `{"k":[1]}`, `{"k":[1}}`) }, ErrMalformed, "attribute 4: value is not a valid json"},
		{"json not compact", func(b []byte) []byte { return patch(t, b, `{"k":[1]}`, `[ "k",1 ]`) }, ErrMalformed, "attribute 4: value is not a valid json"},
		{"json body", func(b []byte) []byte { return patch(t, b, `[33]`, `[33,`) }, ErrMalformed, "body is not a valid json"},
		{"attribute kind", func(b []byte) []byte { return patch(t, b, "str\x00", "str\x06") }, ErrMalformed, "attribute 5: kind"},
		{"body kind", func(b []byte) []byte { return patch(t, b, "\x02\x05\x00[33]", "\x02\xff\x00[33]") }, ErrMalformed, "body kind"},
		{"short for observed time", func(b []byte) []byte {
			b = b[:headerSizeV2-1]
			binary.LittleEndian.PutUint32(b[offLength:], uint32(len(b)-LogOverhead))
			return b
		}, ErrLength, ""},
		{"v1 read as v2", func(b []byte) []byte {
			b = goldenBatch()
			b[offMagic] = MagicV2
			return fixCRC(b)
		}, ErrMalformed, ""},
		{"v2 read as v1", func(b []byte) []byte { b[offMagic] = MagicV1; return fixCRC(b) }, ErrMalformed, ""},
		{"magic 3", func(b []byte) []byte { b[offMagic] = 3; return b }, ErrMagic, ""},
	}
	if _, _, err := Decode(build()); err != nil {
		t.Fatalf("the batch to break is not valid: %v", err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Decode(tt.mut(build()))
			if !errors.Is(err, tt.want) || !strings.Contains(fmt.Sprint(err), tt.msg) {
				t.Fatalf("got %v, want %v: …%s", err, tt.want, tt.msg)
			}
		})
	}
}

// typicalAttrs is what a processor chain might attach to a parsed
// container log line.
func typicalAttrs() []Attr {
	return []Attr{
		StringAttr("level", "info"), IntAttr("status", 200), FloatAttr("duration", 0.0123),
		BoolAttr("cached", true), JSONAttr("req", `{"method":"GET","path":"/api/v1/items"}`),
	}
}

func TestBuilderV2NoAllocsPerRecord(t *testing.T) {
	var b Builder
	body := bytes.Repeat([]byte("x"), 200)
	attrs := typicalAttrs()
	b.ResetV2(1, 1, attrs)
	for b.Len() < 512<<10 {
		b.AddWithAttrs(1, body, attrs)
	}
	allocs := testing.AllocsPerRun(100, func() {
		b.ResetV2(1, 1, attrs)
		for i := 0; i < 1000; i++ {
			b.AddWithAttrs(int64(i), body, attrs)
		}
		bt, _, err := Decode(b.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		it := bt.Records()
		var r Record
		for it.Next(&r) {
			ai := r.Attrs()
			for _, ok := ai.NextAttr(); ok; _, ok = ai.NextAttr() {
			}
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per batch of 1000 records", allocs)
	}
}

// attrCases are the benchmarks' records: 200-byte bodies with no attributes,
// with typicalAttrs, and (in v1) with the same attributes as strings.
func attrCases() []struct {
	name  string
	v2    bool
	attrs []Attr
} {
	var asStrings []Attr
	for _, a := range typicalAttrs() {
		asStrings = append(asStrings, Attr{Key: a.Key, Value: a.Value})
	}
	return []struct {
		name  string
		v2    bool
		attrs []Attr
	}{
		{"v1-no-attrs", false, nil}, {"v2-no-attrs", true, nil},
		{"v1-5-string-attrs", false, asStrings}, {"v2-5-typed-attrs", true, typicalAttrs()},
	}
}

func reset(b *Builder, v2 bool) {
	if v2 {
		b.ResetV2(1, 1, nil)
	} else {
		b.Reset(1, nil)
	}
}

// cpuTime is the process's CPU time: on a shared machine it is a steadier
// figure than wall time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func BenchmarkBuild200Attrs(b *testing.B) {
	for _, bc := range attrCases() {
		b.Run(bc.name, func(b *testing.B) {
			var bld Builder
			body := bytes.Repeat([]byte("x"), 200)
			b.SetBytes(200)
			b.ReportAllocs()
			reset(&bld, bc.v2)
			cpu0 := cpuTime()
			for i := 0; i < b.N; i++ {
				if bld.Len() >= 256<<10 {
					bld.Bytes()
					reset(&bld, bc.v2)
				}
				bld.AddWithAttrs(int64(i), body, bc.attrs)
			}
			b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/record")
		})
	}
}

func BenchmarkDecode200Attrs(b *testing.B) {
	for _, bc := range attrCases() {
		b.Run(bc.name, func(b *testing.B) {
			var bld Builder
			body := bytes.Repeat([]byte("x"), 200)
			reset(&bld, bc.v2)
			records := 0
			for bld.Len() < 256<<10 {
				bld.AddWithAttrs(1, body, bc.attrs)
				records++
			}
			buf := bld.Bytes()
			b.SetBytes(int64(len(buf)))
			b.ReportAllocs()
			cpu0 := cpuTime()
			for i := 0; i < b.N; i++ {
				bt, _, err := Decode(buf)
				if err != nil {
					b.Fatal(err)
				}
				it := bt.Records()
				var r Record
				for it.Next(&r) {
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*records), "ns/record")
			b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N*records), "cpu-ns/record")
		})
	}
}
