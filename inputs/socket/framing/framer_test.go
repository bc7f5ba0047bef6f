package framing

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

type frame struct {
	msg       string
	truncated bool
}

// run frames input fed in chunks of size step (0: all at once).
func run(t testing.TB, mode Mode, max int, input []byte, step int) ([]frame, Mode) {
	f := New(mode, max)
	f.Attach(make([]byte, BufferSize(max)))
	var out []frame
	collect := func() {
		for {
			m, tr, ok := f.Next()
			if !ok {
				return
			}
			if len(m) > max {
				t.Fatalf("message of %d bytes, max %d", len(m), max)
			}
			out = append(out, frame{string(m), tr})
		}
	}
	for len(input) > 0 {
		sp := f.Space()
		if len(sp) == 0 {
			t.Fatalf("no space with %d buffered", f.Buffered())
		}
		n := len(input)
		if step > 0 && n > step {
			n = step
		}
		n = copy(sp, input[:n])
		input = input[n:]
		f.Commit(n)
		collect()
	}
	f.SetEOF()
	collect()
	if f.Buffered() != 0 {
		t.Fatalf("%d bytes left after EOF", f.Buffered())
	}
	return out, f.Mode()
}

func TestFramer(t *testing.T) {
	tests := []struct {
		name  string
		mode  Mode
		max   int
		in    string
		want  []frame
		wantM Mode
	}{
		{"lines", Auto, 100, "a\nbb\r\n\nccc", []frame{{"a", false}, {"bb", false}, {"ccc", false}}, Newline},
		{"digits are not a length", Auto, 100, "2024-01-01 x\n12 y\n", []frame{{"2024-01-01 x", false}, {"12 y", false}}, Newline},
		{"json", Auto, 100, `{"a":1}` + "\n", []frame{{`{"a":1}`, false}}, Newline},
		{"long line cut and skipped", Newline, 4, "abcdefgh\nij\n", []frame{{"abcd", true}, {"ij", false}}, Newline},
		{"exactly max", Newline, 4, "abcd\nabcde\n", []frame{{"abcd", false}, {"abcd", true}}, Newline},
		{"octet auto", Auto, 100, "5 <1>ab3 <2>\n4 <3>c", []frame{{"<1>ab", false}, {"<2>", false}, {"<3>c", false}}, OctetCounting},
		{"octet newline between frames", Auto, 100, "3 <1>\n3 <2>\r\n", []frame{{"<1>", false}, {"<2>", false}}, OctetCounting},
		{"octet long cut", OctetCounting, 4, "8 <1>abcde3 <2>", []frame{{"<1>a", true}, {"<2>", false}}, OctetCounting},
		{"octet then plain line", OctetCounting, 100, "3 <1><2> plain\n3 <3>", []frame{{"<1>", false}, {"<2> plain", false}, {"<3>", false}}, OctetCounting},
		{"octet partial at eof", OctetCounting, 100, "10 <1>ab", []frame{{"<1>ab", true}}, OctetCounting},
		{"octet header only at eof", Auto, 100, "12", []frame{{"12", false}}, Newline},
		{"leading zero is a line", Auto, 100, "05 <1>abc\n", []frame{{"05 <1>abc", false}}, Newline},
		{"huge count", OctetCounting, 8, "99999999999 <1>\n", []frame{{"99999999", true}}, OctetCounting},
		{"binary", Auto, 8, "\x00\xff\xfe\n\x01", []frame{{"\x00\xff\xfe", false}, {"\x01", false}}, Newline},
	}
	for _, tt := range tests {
		for _, step := range []int{0, 1, 2, 3, 7} {
			t.Run(fmt.Sprintf("%s/step%d", tt.name, step), func(t *testing.T) {
				got, m := run(t, tt.mode, tt.max, []byte(tt.in), step)
				if fmt.Sprint(got) != fmt.Sprint(tt.want) || m != tt.wantM {
					t.Fatalf("got %+v mode %v, want %+v mode %v", got, m, tt.want, tt.wantM)
				}
			})
		}
	}
}

func TestFramerHugeLineBoundedBuffer(t *testing.T) {
	const max = 1024
	f := New(Newline, max)
	f.Attach(make([]byte, BufferSize(max)))
	chunk := bytes.Repeat([]byte("x"), 4096)
	var msgs, truncated int
	for fed := 0; fed < 10<<20; fed += len(chunk) {
		sp := f.Space()
		n := copy(sp, chunk)
		f.Commit(n)
		fed += n - len(chunk)
		for {
			m, tr, ok := f.Next()
			if !ok {
				break
			}
			msgs++
			if tr {
				truncated++
			}
			if len(m) != max {
				t.Fatalf("message of %d bytes", len(m))
			}
		}
	}
	copy(f.Space(), "\nnext\n")
	f.Commit(6)
	m, tr, ok := f.Next()
	if !ok || string(m) != "next" || tr {
		t.Fatalf("after the long line: %q %v %v", m, tr, ok)
	}
	if msgs != 1 || truncated != 1 {
		t.Fatalf("10 MiB line gave %d messages (%d truncated), want 1 cut", msgs, truncated)
	}
}

func TestDetachOnlyWhenEmpty(t *testing.T) {
	f := New(Newline, 16)
	f.Attach(make([]byte, BufferSize(16)))
	f.Commit(copy(f.Space(), "part"))
	if f.Detach() != nil {
		t.Fatal("detached with a partial message")
	}
	f.Commit(copy(f.Space(), "ial\n"))
	if m, _, ok := f.Next(); !ok || string(m) != "partial" {
		t.Fatalf("got %q", m)
	}
	if f.Detach() == nil {
		t.Fatal("could not detach an empty framer")
	}
	f.Attach(make([]byte, BufferSize(16)))
	f.Commit(copy(f.Space(), "x\n"))
	if m, _, ok := f.Next(); !ok || string(m) != "x" {
		t.Fatalf("got %q", m)
	}
}

func TestNextAllocatesNothing(t *testing.T) {
	in := []byte(strings.Repeat("12 <13>message\n", 100))
	f := New(Auto, 1024)
	f.Attach(make([]byte, BufferSize(1024)+len(in)))
	allocs := testing.AllocsPerRun(100, func() {
		f.Commit(copy(f.Space(), in))
		for {
			if _, _, ok := f.Next(); !ok {
				break
			}
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per run", allocs)
	}
}

// FuzzOctetFramer checks that any bytes, cut anywhere, frame the same way
// as when they come at once, and never give a message over the maximum.
func FuzzOctetFramer(f *testing.F) {
	for _, s := range []string{
		"5 <1>ab3 <2>\n4 <3>c",
		"8 <1>abcde3 <2>",
		"line\nother\r\n",
		"99999999999 <1>\n",
		"10 <1>ab",
		"3 <1><2> plain\n3 <3>",
		"\x00\xff\n",
	} {
		f.Add([]byte(s), uint8(3), uint8(0))
	}
	f.Fuzz(func(t *testing.T, in []byte, step, mode uint8) {
		m := Mode(mode % 3)
		const max = 8
		whole, m1 := run(t, m, max, in, 0)
		cut, m2 := run(t, m, max, in, int(step%16)+1)
		if m1 != m2 || fmt.Sprint(whole) != fmt.Sprint(cut) {
			t.Fatalf("framing depends on how bytes arrive:\n%+v %v\n%+v %v", whole, m1, cut, m2)
		}
	})
}

func BenchmarkNewline(b *testing.B) {
	in := bytes.Repeat(append(bytes.Repeat([]byte("x"), 199), '\n'), 300)
	f := New(Auto, 64<<10)
	f.Attach(make([]byte, BufferSize(64<<10)))
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		f.Commit(copy(f.Space(), in))
		for {
			if _, _, ok := f.Next(); !ok {
				break
			}
		}
	}
}
