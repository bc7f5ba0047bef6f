package format

import (
	"bytes"
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
