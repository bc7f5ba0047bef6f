package format

import (
	"bytes"
	"encoding/json"
	"regexp"
	"testing"
	"time"
)

func FuzzDocker(f *testing.F) {
	f.Add([]byte(`{"log":"hello\n","stream":"stdout","time":"2024-01-02T03:04:05Z"}`))
	f.Add([]byte(`{"log":"\ud83d\ude00","attrs":{"a":[1,{}]},"stream":"stderr","time":"2024-01-02T03:04:05.1+01:00"}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		e, dst, err := ParseDocker(line, nil)
		if err != nil {
			return
		}
		if len(e.Body) > len(dst) || (len(dst) > 0 && !bytes.HasPrefix(dst, e.Body)) {
			t.Fatalf("body %q not in buffer %q", e.Body, dst)
		}
		d := NewDecoder(Options{Kind: Docker, MaxBytes: 16})
		var s countSink
		d.Line(line, 0, int64(len(line))+1, 1, &s)
		d.Flush(&s)
		if s.n != 1 {
			t.Fatalf("%d records from one line", s.n)
		}
	})
}

var rfc3339 = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:[0-5]\d)$`) // RFC 3339 offset minutes are under 60; time.Parse takes more

// FuzzJSONTime: no panic; what encoding/json takes is never called invalid
// (but for nesting past 64); a time found is after 1970; a line that
// time.Parse reads as RFC 3339 is read the same by ParseLogTime.
func FuzzJSONTime(f *testing.F) {
	f.Add([]byte(`{"time":"2024-01-02T03:04:05Z","a":[1,{"b":null}]}`))
	f.Add([]byte(`{"level":"info","ts":1700000000.5,"msg":"x"}`))
	f.Add([]byte(`{"asctime":"2024-05-01 10:00:00,123","message":"x"}`))
	f.Add([]byte(`2024-05-01T10:00:00.123+02:00`))
	f.Fuzz(func(t *testing.T, line []byte) {
		ts, err := CheckJSON(line)
		if got := JSONTime(line); got != ts {
			t.Fatalf("JSONTime %d, CheckJSON %d", got, ts)
		}
		if err != nil && err != ErrJSONDepth && json.Valid(line) {
			t.Fatalf("valid JSON called %v", err)
		}
		if ts < 0 {
			t.Fatalf("time %d before 1970", ts)
		}
		// The line as a time on its own: what time.Parse reads as RFC 3339
		// is read the same (time.Parse also takes a one-digit hour; RFC 3339
		// does not).
		if !rfc3339.Match(line) {
			return
		}
		ref, perr := time.Parse(time.RFC3339Nano, string(line))
		if perr != nil || ref.Year() < 1970 || ref.Year() > 2261 {
			return
		}
		if got, err := ParseLogTime(line); err != nil || got != ref.UnixNano() {
			t.Fatalf("ParseLogTime(%q) = %d, %v; time.Parse says %d", line, got, err, ref.UnixNano())
		}
	})
}

func FuzzCRI(f *testing.F) {
	f.Add([]byte("2024-01-02T03:04:05.000006Z stdout F hello world"))
	f.Add([]byte("2024-01-02T03:04:05Z stderr P:x part"))
	f.Fuzz(func(t *testing.T, line []byte) {
		e, err := ParseCRI(line)
		if err != nil {
			return
		}
		if len(e.Body) > len(line) || (e.Stream != StreamStdout && e.Stream != StreamStderr) {
			t.Fatalf("bad entry %+v", e)
		}
		d := NewDecoder(Options{Kind: CRI, MaxBytes: 8})
		var s countSink
		d.Line(line, 0, int64(len(line))+1, 1, &s)
		d.Flush(&s)
		if s.n != 1 {
			t.Fatalf("%d records from one line", s.n)
		}
	})
}

// FuzzDecoder feeds arbitrary text, split at newlines, through every format
// with multiline on: no panic, at most one record per line plus what a flush
// releases, and the held offset never past the last line's end.
func FuzzDecoder(f *testing.F) {
	f.Add([]byte("2024-01-02T03:04:05Z stdout P a\n2024-01-02T03:04:05Z stdout F b\nplain\n  cont\n"), uint8(1))
	f.Add([]byte("{\"log\":\"x\",\"stream\":\"stderr\",\"time\":\"2024-01-02T03:04:05Z\"}\n{\"log\":\"y\\n\"}\n"), uint8(2))
	f.Fuzz(func(t *testing.T, text []byte, kind uint8) {
		d := NewDecoder(Options{Kind: Kind(kind % 4), MaxBytes: 32, Start: regexp.MustCompile(`^\S`), FlushAfter: 1})
		var s countSink
		off := int64(0)
		lines := 0
		for _, line := range bytes.Split(text, []byte("\n")) {
			end := off + int64(len(line)) + 1
			d.Line(line, off, end, 1, &s)
			lines++
			if p, ok := d.Pending(); ok && (p < 0 || p > off) {
				t.Fatalf("pending at %d, last line starts at %d", p, off)
			}
			off = end
		}
		d.Flush(&s)
		if s.n > lines {
			t.Fatalf("%d records from %d lines", s.n, lines)
		}
		if _, ok := d.Pending(); ok {
			t.Fatal("pending after flush")
		}
	})
}
