package format

import (
	"bytes"
	"regexp"
	"testing"
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

func FuzzJSONTime(f *testing.F) {
	f.Add([]byte(`{"time":"2024-01-02T03:04:05Z","a":[1,{"b":null}]}`))
	f.Fuzz(func(t *testing.T, line []byte) { JSONTime(line) })
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
