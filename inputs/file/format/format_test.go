package format

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestParseTime(t *testing.T) {
	for _, s := range []string{
		"2024-01-02T03:04:05Z",
		"2024-01-02T03:04:05.123456789Z",
		"2024-02-29T23:59:59.5+02:00",
		"1969-12-31T23:59:59.999-07:30",
		"2016-10-06T00:17:09.669794202Z",
	} {
		want, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		got, err := ParseTime([]byte(s))
		if err != nil || got != want.UnixNano() {
			t.Errorf("ParseTime(%q) = %d, %v; want %d", s, got, err, want.UnixNano())
		}
	}
	for _, s := range []string{"", "2024-01-02", "2024-13-02T03:04:05Z", "2023-02-29T03:04:05Z",
		"2024-01-02T03:04:05", "2024-01-02T03:04:05.Z", "2024-01-02T03:04:05+0200", "2024-01-02X03:04:05Z"} {
		if _, err := ParseTime([]byte(s)); err == nil {
			t.Errorf("ParseTime(%q) accepted", s)
		}
	}
}

func TestParseCRI(t *testing.T) {
	ts := time.Date(2024, 1, 2, 3, 4, 5, 6000, time.UTC).UnixNano()
	for _, tc := range []struct {
		line string
		want Entry
		bad  bool
	}{
		{line: "2024-01-02T03:04:05.000006Z stdout F hello world", want: Entry{ts, StreamStdout, false, []byte("hello world")}},
		{line: "2024-01-02T03:04:05.000006Z stderr P part", want: Entry{ts, StreamStderr, true, []byte("part")}},
		{line: "2024-01-02T03:04:05.000006Z stdout F", want: Entry{ts, StreamStdout, false, []byte("")}},
		{line: "2024-01-02T03:04:05.000006Z stdout F:x  two spaces", want: Entry{ts, StreamStdout, false, []byte(" two spaces")}},
		{line: "2024-01-02T03:04:05.000006Z stdin F x", bad: true},
		{line: "2024-01-02T03:04:05.000006Z stdout X x", bad: true},
		{line: "garbage", bad: true},
		{line: "2024-01-02T03:04:05.000006Z", bad: true},
	} {
		got, err := ParseCRI([]byte(tc.line))
		if tc.bad {
			if err == nil {
				t.Errorf("%q: accepted", tc.line)
			}
			continue
		}
		if err != nil || got.Time != tc.want.Time || got.Stream != tc.want.Stream ||
			got.Partial != tc.want.Partial || !bytes.Equal(got.Body, tc.want.Body) {
			t.Errorf("%q: got %+v %v, want %+v", tc.line, got, err, tc.want)
		}
	}
}

func TestParseDocker(t *testing.T) {
	ts := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC).UnixNano()
	for _, tc := range []struct {
		line string
		want Entry
		bad  bool
	}{
		{line: `{"log":"hello\n","stream":"stdout","time":"2024-01-02T03:04:05Z"}`, want: Entry{ts, StreamStdout, false, []byte("hello")}},
		{line: `{"time":"2024-01-02T03:04:05Z", "stream":"stderr", "log":"split"}`, want: Entry{ts, StreamStderr, true, []byte("split")}},
		{line: `{"log":"q\"\\\/\t\u00e9\ud83d\ude00\n","stream":"stdout","attrs":{"a":[1,true,null,{"b":"c"}]},"time":"2024-01-02T03:04:05Z"}`,
			want: Entry{ts, StreamStdout, false, []byte("q\"\\/\té😀")}},
		{line: `{"log":"x\n"}`, want: Entry{0, StreamNone, false, []byte("x")}},
		{line: `{"log":"x\n","stream":"stdout","time":"nope"}`, bad: true},
		{line: `{"stream":"stdout"}`, bad: true},
		{line: `{"log":"x\n"`, bad: true},
		{line: `{"log":"\x"}`, bad: true},
		{line: `{"log":"x\n"} trailing`, bad: true},
		{line: `not json`, bad: true},
		{line: `{}`, bad: true},
	} {
		got, _, err := ParseDocker([]byte(tc.line), nil)
		if tc.bad {
			if err == nil {
				t.Errorf("%s: accepted", tc.line)
			}
			continue
		}
		if err != nil || got.Time != tc.want.Time || got.Stream != tc.want.Stream ||
			got.Partial != tc.want.Partial || !bytes.Equal(got.Body, tc.want.Body) {
			t.Errorf("%s: got %+v %q %v, want %+v", tc.line, got, got.Body, err, tc.want)
		}
	}
}

type rec struct {
	ts      int64
	stream  Stream
	body    string
	invalid error
}

type sliceSink struct{ recs []rec }

func (s *sliceSink) Record(ts int64, st Stream, body []byte, invalid error) {
	s.recs = append(s.recs, rec{ts, st, string(body), invalid})
}

func TestDecoderPartialsAndMultiline(t *testing.T) {
	cri := func(st, tag, msg string) string { return "2024-01-02T03:04:05Z " + st + " " + tag + " " + msg }
	for _, tc := range []struct {
		name    string
		opt     Options
		lines   []string
		want    []string
		pending bool // something held at the end
		trunc   uint64
	}{
		{name: "cri partials", opt: Options{Kind: CRI}, lines: []string{
			cri("stdout", "P", "ab"), cri("stderr", "F", "err"), cri("stdout", "P", "cd"), cri("stdout", "F", "ef"), cri("stdout", "F", "g")},
			want: []string{"err", "abcdef", "g"}},
		{name: "cri partial cut", opt: Options{Kind: CRI, MaxBytes: 4}, lines: []string{
			cri("stdout", "P", "abc"), cri("stdout", "P", "def"), cri("stdout", "F", "ghi"), cri("stdout", "F", "0123456")},
			want: []string{"abcd", "0123"}, trunc: 2},
		{name: "cri held", opt: Options{Kind: CRI}, lines: []string{cri("stdout", "F", "a"), cri("stdout", "P", "b")},
			want: []string{"a"}, pending: true},
		{name: "docker partials", opt: Options{Kind: Docker}, lines: []string{
			`{"log":"ab","stream":"stdout","time":"2024-01-02T03:04:05Z"}`,
			`{"log":"cd\n","stream":"stdout","time":"2024-01-02T03:04:06Z"}`},
			want: []string{"abcd"}},
		{name: "multiline", opt: Options{Kind: Raw, Start: regexp.MustCompile(`^\d`)}, lines: []string{
			"  orphan", "1 first", "  at a", "  at b", "2 second", "3 third", "  x"},
			want: []string{"  orphan", "1 first\n  at a\n  at b", "2 second"}, pending: true},
		{name: "multiline cut", opt: Options{Kind: Raw, MaxBytes: 8, Start: regexp.MustCompile(`^\d`)}, lines: []string{
			"1 abc", "  def", "  ghi", "2"},
			want: []string{"1 abc\n  "}, pending: true, trunc: 1},
		{name: "invalid kept", opt: Options{Kind: CRI}, lines: []string{"junk line"}, want: []string{"junk line"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := NewDecoder(tc.opt)
			var s sliceSink
			off := int64(0)
			for _, l := range tc.lines {
				d.Line([]byte(l), off, off+int64(len(l))+1, 1, &s)
				off += int64(len(l)) + 1
			}
			var got []string
			for _, r := range s.recs {
				got = append(got, r.body)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("records %q, want %q", got, tc.want)
			}
			if _, p := d.Pending(); p != tc.pending {
				t.Errorf("pending %v, want %v", p, tc.pending)
			}
			if d.Truncated != tc.trunc {
				t.Errorf("truncated %d, want %d", d.Truncated, tc.trunc)
			}
			if tc.pending && !d.Flush(&s) {
				t.Error("flush emitted nothing")
			}
		})
	}
}

func TestDecoderFlushIdle(t *testing.T) {
	d := NewDecoder(Options{Kind: Raw, Start: regexp.MustCompile(`^\S`), FlushAfter: 10})
	var s sliceSink
	d.Line([]byte("a"), 0, 2, 100, &s)
	d.Line([]byte(" b"), 2, 5, 105, &s)
	if start, ok := d.Pending(); !ok || start != 0 {
		t.Fatalf("pending %d %v", start, ok)
	}
	if d.FlushIdle(114, &s) {
		t.Fatal("flushed before the timeout")
	}
	if !d.FlushIdle(115, &s) || len(s.recs) != 1 || s.recs[0].body != "a\n b" || s.recs[0].ts != 100 {
		t.Fatalf("got %+v", s.recs)
	}
	if _, ok := d.Pending(); ok {
		t.Fatal("still pending")
	}
}

func TestDecoderNoAllocs(t *testing.T) {
	d := NewDecoder(Options{Kind: Docker})
	var s countSink
	line := []byte(`{"log":"GET /index.html 200 \"curl\"\n","stream":"stdout","time":"2024-01-02T03:04:05.123Z"}`)
	cri := []byte("2024-01-02T03:04:05.123Z stdout F GET /index.html 200")
	dc := NewDecoder(Options{Kind: CRI})
	if n := testing.AllocsPerRun(100, func() {
		d.Line(line, 0, 1, 1, &s)
		dc.Line(cri, 0, 1, 1, &s)
	}); n != 0 {
		t.Fatalf("%v allocs per line", n)
	}
}

type countSink struct{ n int }

func (c *countSink) Record(int64, Stream, []byte, error) { c.n++ }

func TestJSONTime(t *testing.T) {
	want := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC).UnixNano()
	half := time.Date(2023, 11, 14, 22, 13, 20, 500_000_000, time.UTC).UnixNano() // 1700000000.5
	for _, tc := range []struct {
		name, line string
		want       int64
	}{
		{"logrus/slog RFC 3339", `{"level":"info","time":"2024-01-02T03:04:05Z","msg":"x"}`, want},
		{"nested time is not the record's", `{"nested":{"time":"2020-01-01T00:00:00Z"},"@timestamp":"2024-01-02T03:04:05Z"}`, want},
		{"zap epoch seconds", `{"level":"info","ts":1700000000.5,"msg":"x"}`, half},
		{"epoch seconds integer", `{"ts":1704164645,"msg":"x"}`, want},
		{"pino epoch millis", `{"level":30,"time":1704164645000,"msg":"x"}`, want},
		{"klog epoch millis with fraction", `{"ts":1700000000500.25,"msg":"x"}`, half + 250_000},
		{"numeric string", `{"timestamp":"1700000000.5"}`, half},
		{"python asctime", `{"asctime":"2024-01-02 03:04:05,000","message":"x"}`, want},
		{"space, no zone = UTC", `{"time":"2024-01-02 03:04:05"}`, want},
		{"zap ISO 8601", `{"ts":"2024-01-02T04:04:05.000+0100"}`, want},
		{"Serilog CLEF", `{"@t":"2024-01-02T03:04:05.0000000Z","@mt":"x"}`, want},
		{"log4j2 timeMillis", `{"timeMillis":1704164645000,"message":"x"}`, want},
		{"first parsable time field wins", `{"time":"yesterday","timestamp":"2024-01-02T03:04:05Z"}`, want},
		{"negative epoch is no time", `{"ts":-5}`, 0},
		{"boolean is no time", `{"ts":true}`, 0},
		{"no time", `{"msg":"no time"}`, 0},
		{"not json", `not json`, 0},
		{"time found before the line breaks", `{"time":"2024-01-02T03:04:05Z"`, want},
	} {
		if got := JSONTime([]byte(tc.line)); got != tc.want {
			t.Errorf("%s: %s: %d, want %d", tc.name, tc.line, got, tc.want)
		}
	}
	for _, line := range []string{
		`{"level":"info","msg":"x","time":"2024-01-02T03:04:05Z"}`,
		`{"level":"info","msg":"x","ts":1700000000.123456}`,
	} {
		b := []byte(line)
		if n := testing.AllocsPerRun(100, func() { JSONTime(b) }); n != 0 {
			t.Errorf("%s: %v allocs", line, n)
		}
	}
}

func TestParseLogTime(t *testing.T) {
	at := func(s string) int64 {
		for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999Z0700", "2006-01-02T15:04:05.999999999"} {
			if tt, err := time.Parse(layout, s); err == nil {
				return tt.UnixNano()
			}
		}
		t.Fatalf("reference %q does not parse", s)
		return 0
	}
	for _, tc := range []struct{ in, ref string }{
		{"2024-05-01T10:00:00Z", "2024-05-01T10:00:00Z"},
		{"2024-05-01T10:00:00.123456789Z", "2024-05-01T10:00:00.123456789Z"},
		{"2024-05-01t10:00:00z", "2024-05-01T10:00:00Z"},
		{"2024-05-01T10:00:00+02:00", "2024-05-01T10:00:00+02:00"},
		{"2024-05-01T10:00:00.5-07:30", "2024-05-01T10:00:00.5-07:30"},
		{"2024-05-01T10:00:00.000+0200", "2024-05-01T10:00:00+02:00"},
		{"2024-05-01T10:00:00+02", "2024-05-01T10:00:00+02:00"},
		{"2024-05-01 10:00:00", "2024-05-01T10:00:00Z"},
		{"2024-05-01 10:00:00.25", "2024-05-01T10:00:00.25Z"},
		{"2024-05-01 10:00:00,123", "2024-05-01T10:00:00.123Z"},
		{"2024-05-01 10:00:00+02:00", "2024-05-01T10:00:00+02:00"},
		{"2024-05-01 10:00:00 +0200", "2024-05-01T10:00:00+02:00"},
		{"2024-05-01 10:00:00 UTC", "2024-05-01T10:00:00Z"},
		{"2024-05-01 10:00:00.5 Z", "2024-05-01T10:00:00.5Z"},
		{"2024-05-01T10:00:00.1234567", "2024-05-01T10:00:00.1234567"},
		{"2024-02-29T23:59:59Z", "2024-02-29T23:59:59Z"},
		{"1714557600", "2024-05-01T10:00:00Z"},
		{"1714557600.25", "2024-05-01T10:00:00.25Z"},
		{"1714557600250", "2024-05-01T10:00:00.25Z"},
		{"1714557600250000", "2024-05-01T10:00:00.25Z"},
		{"1714557600250000001", "2024-05-01T10:00:00.250000001Z"},
		{"1.7145576e9", "2024-05-01T10:00:00Z"},
		{"17145576002500e-4", "2024-05-01T10:00:00.25Z"},
		{"0.5", "1970-01-01T00:00:00.5Z"},
		{"4102444800", "2100-01-01T00:00:00Z"},
		{"100000000000", "1973-03-03T09:46:40Z"},
	} {
		got, err := ParseLogTime([]byte(tc.in))
		if want := at(tc.ref); err != nil || got != want {
			t.Errorf("ParseLogTime(%q) = %d, %v; want %d (%s)", tc.in, got, err, want, tc.ref)
		}
	}
	for _, s := range []string{"", "yesterday", "2024-05-01", "2024-05-01T10:00", "2024-13-01 10:00:00",
		"2023-02-29 10:00:00", "2024-05-01 10:00:00.", "2024-05-01 10:00:00  Z", "2024-05-01 10:00:00 CEST",
		"2024-05-01 10:00:00+2", "2024-05-01 10:00:00+02:0", "2024-05-01 10:00:00+25:00", "2024-05-01X10:00:00",
		"-1700000000", "1700000000.", ".5", "1e", "1700000000x", "1e999", "99999999999", "9223372036854775808", "92233720368547758070",
		"1_700_000_000", "0x6553F100"} {
		if ts, err := ParseLogTime([]byte(s)); err == nil {
			t.Errorf("ParseLogTime(%q) = %d, accepted", s, ts)
		}
	}
	b := []byte("2024-05-01 10:00:00,123 +0200")
	e := []byte("1714557600.123456")
	if n := testing.AllocsPerRun(100, func() { ParseLogTime(b); ParseLogTime(e) }); n != 0 {
		t.Errorf("%v allocs", n)
	}
}

func TestCheckJSON(t *testing.T) {
	for _, tc := range []struct {
		line string
		want error
	}{
		{`{"a":1,"b":[true,null,{"c":"d\"e"}],"n":-0.5e+10,"u":"\u00e9"}`, nil},
		{` [1, 2] `, nil},
		{`"s"`, nil},
		{`{}`, nil},
		{`{"a":1`, ErrJSONEnd},
		{`{"a":"x}`, ErrJSONEnd},
		{`{"a":tr`, ErrJSONEnd},
		{`{"a":1.`, ErrJSONEnd},
		{`{"a" 1}`, ErrJSONSyntax},
		{`{"a":1,}`, ErrJSONSyntax},
		{`[1 2]`, ErrJSONSyntax},
		{`{"a":tru}`, ErrJSONSyntax},
		{`{"a":01}`, ErrJSONSyntax},
		{`{"a":.5}`, ErrJSONSyntax},
		{`{"a":1e}`, ErrJSONSyntax},
		{`{a:1}`, ErrJSONSyntax},
		{`plain text`, ErrJSONSyntax},
		{`{"a":"\x"}`, ErrJSONString},
		{`{"a":"\u12G4"}`, ErrJSONString},
		{`{"a":1} x`, ErrJSONTrailing},
		{`{"a":1}{"b":2}`, ErrJSONTrailing},
		{strings.Repeat("[", 66) + strings.Repeat("]", 66), ErrJSONDepth},
		{``, ErrJSONEnd},
	} {
		if _, err := CheckJSON([]byte(tc.line)); err != tc.want {
			t.Errorf("%s: %v, want %v", tc.line, err, tc.want)
		}
	}
}

// TestDecoderJSON: a JSON record takes its time, or keeps the read time and
// says why it is not JSON; with multiline, the grouped object is the value.
func TestDecoderJSON(t *testing.T) {
	want := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC).UnixNano()
	for _, tc := range []struct {
		name  string
		opt   Options
		lines []string
		want  []rec
	}{
		{name: "lines", opt: Options{Kind: JSON}, lines: []string{
			`{"ts":1704164645,"msg":"a"}`, `{"msg":"b"}`, `{"msg":"c"`, `not json`},
			want: []rec{{want, StreamNone, `{"ts":1704164645,"msg":"a"}`, nil}, {1, StreamNone, `{"msg":"b"}`, nil},
				{1, StreamNone, `{"msg":"c"`, ErrJSONEnd}, {1, StreamNone, `not json`, ErrJSONSyntax}}},
		{name: "cut at max bytes", opt: Options{Kind: JSON, MaxBytes: 12}, lines: []string{`{"msg":"a long line"}`},
			want: []rec{{1, StreamNone, `{"msg":"a lo`, ErrJSONEnd}}},
		{name: "multiline object", opt: Options{Kind: JSON, Start: regexp.MustCompile(`^\{`)}, lines: []string{
			`{`, `  "time": "2024-01-02 03:04:05",`, `  "msg": "x"`, `}`, `{`},
			want: []rec{{want, StreamNone, "{\n  \"time\": \"2024-01-02 03:04:05\",\n  \"msg\": \"x\"\n}", nil}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := NewDecoder(tc.opt)
			var s sliceSink
			off := int64(0)
			for _, l := range tc.lines {
				d.Line([]byte(l), off, off+int64(len(l))+1, 1, &s)
				off += int64(len(l)) + 1
			}
			if fmt.Sprint(s.recs) != fmt.Sprint(tc.want) {
				t.Errorf("records\n%v\nwant\n%v", s.recs, tc.want)
			}
			bad := uint64(0)
			for _, r := range tc.want {
				if r.invalid != nil {
					bad++
				}
			}
			if d.Invalid != bad {
				t.Errorf("invalid %d, want %d", d.Invalid, bad)
			}
		})
	}
	d := NewDecoder(Options{Kind: JSON})
	var s countSink
	line := []byte(`{"level":"info","ts":1700000000.123456,"caller":"main.go:12","msg":"GET /index.html","status":200}`)
	if n := testing.AllocsPerRun(100, func() { d.Line(line, 0, 1, 1, &s) }); n != 0 {
		t.Fatalf("%v allocs per line", n)
	}
}
