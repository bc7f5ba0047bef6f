package format

import (
	"bytes"
	"fmt"
	"regexp"
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
	ts     int64
	stream Stream
	body   string
}

type sliceSink struct{ recs []rec }

func (s *sliceSink) Record(ts int64, st Stream, body []byte) {
	s.recs = append(s.recs, rec{ts, st, string(body)})
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

func (c *countSink) Record(int64, Stream, []byte) { c.n++ }

func TestJSONTime(t *testing.T) {
	want := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC).UnixNano()
	for _, tc := range []struct {
		line string
		want int64
	}{
		{`{"level":"info","time":"2024-01-02T03:04:05Z","msg":"x"}`, want},
		{`{"nested":{"time":"2020-01-01T00:00:00Z"},"@timestamp":"2024-01-02T03:04:05Z"}`, want},
		{`{"ts":1704164645,"msg":"numbers are not read"}`, 0},
		{`{"time":"yesterday","timestamp":"2024-01-02T03:04:05Z"}`, want},
		{`{"msg":"no time"}`, 0},
		{`not json`, 0},
		{`{"time":"2024-01-02T03:04:05Z"`, want},
	} {
		if got := JSONTime([]byte(tc.line)); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.line, got, tc.want)
		}
	}
	line := []byte(`{"level":"info","msg":"x","time":"2024-01-02T03:04:05Z"}`)
	if n := testing.AllocsPerRun(100, func() { JSONTime(line) }); n != 0 {
		t.Errorf("%v allocs", n)
	}
}

func TestValidJSON(t *testing.T) {
	for _, tc := range []struct {
		line string
		want bool
	}{
		{`{"a":1,"b":[true,null,{"c":"d\"e"}]}`, true},
		{` [1, 2] `, true},
		{`"s"`, true},
		{`{"a":1`, false},
		{`{"a" 1}`, false},
		{`{"a":1,}`, false},
		{`[1 2]`, false},
		{`{"a":"x}`, false},
		{`{} x`, false},
		{``, false},
	} {
		if got := validJSON([]byte(tc.line)); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.line, got, tc.want)
		}
	}
}
