package batch

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

const goldenPath = "../../testdata/batch/v1.golden"

// goldenBatch is the batch pinned by testdata/batch/v1.golden.
func goldenBatch() []byte {
	var b Builder
	b.Reset(0x0102030405060708, []Attr{StringAttr("input", "app"), StringAttr("path", "/var/log/app.log")})
	b.Add(1_700_000_000_000_000_000, []byte("first line"))
	b.AddWithAttrs(1_700_000_000_000_000_500, []byte("second line"), []Attr{StringAttr("stream", "stderr")})
	b.Add(1_699_999_999_999_999_000, []byte(""))
	b.SetSequence(4096)
	out := b.Bytes()
	SetBaseOffset(out, 42)
	return bytes.Clone(out)
}

func TestGolden(t *testing.T) {
	got := goldenBatch()
	if *update {
		if err := os.WriteFile(goldenPath, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(filepath.FromSlash(goldenPath))
	if err != nil {
		t.Fatalf("read golden file (run with -update to create it): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("the batch format changed:\n got %x\nwant %x\nIf this is meant, bump Magic and keep a reader for version %d.", got, want, Magic)
	}
	bt, n, err := Decode(want)
	if err != nil || n != len(want) {
		t.Fatalf("decode golden: n=%d err=%v", n, err)
	}
	h := bt.Header
	if h.BaseOffset != 42 || h.Count != 3 || h.Producer != 0x0102030405060708 || h.Sequence != 4096 ||
		h.FirstTimestamp != 1_700_000_000_000_000_000 || h.MaxTimestamp != 1_700_000_000_000_000_500 {
		t.Fatalf("header: %+v", h)
	}
	type rec struct {
		off   uint64
		ts    int64
		body  string
		attrs []string
	}
	want2 := []rec{
		{42, 1_700_000_000_000_000_000, "first line", nil},
		{43, 1_700_000_000_000_000_500, "second line", []string{"stream", "stderr"}},
		{44, 1_699_999_999_999_999_000, "", nil},
	}
	it := bt.Records()
	var r Record
	for i := 0; it.Next(&r); i++ {
		var attrs []string
		ai := r.Attrs()
		for k, v, ok := ai.Next(); ok; k, v, ok = ai.Next() {
			attrs = append(attrs, string(k), string(v))
		}
		w := want2[i]
		if r.Offset != w.off || r.Timestamp != w.ts || string(r.Body) != w.body || len(attrs) != len(w.attrs) {
			t.Fatalf("record %d: %+v attrs %v, want %+v", i, r, attrs, w)
		}
	}
	sa := bt.SourceAttrs()
	if sa.Len() != 2 {
		t.Fatalf("source attrs: %d", sa.Len())
	}
	k, v, _ := sa.Next()
	if string(k) != "input" || string(v) != "app" {
		t.Fatalf("source attr: %s=%s", k, v)
	}
}

func TestBaseOffsetOutsideCRC(t *testing.T) {
	b := goldenBatch()
	SetBaseOffset(b, 1<<40)
	if _, _, err := Check(b); err != nil {
		t.Fatalf("rewriting base_offset broke the batch: %v", err)
	}
	if BaseOffset(b) != 1<<40 {
		t.Fatal("base offset not rewritten")
	}
}

func TestDecodeRejects(t *testing.T) {
	good := goldenBatch()
	tests := []struct {
		name string
		mut  func([]byte) []byte
		want error
	}{
		{"short header", func(b []byte) []byte { return b[:HeaderSize-1] }, ErrShort},
		{"short body", func(b []byte) []byte { return b[:len(b)-1] }, ErrShort},
		{"magic", func(b []byte) []byte { b[offMagic] = 9; return b }, ErrMagic},
		{"length too small", func(b []byte) []byte { b[offLength], b[offLength+1] = 1, 0; return b }, ErrLength},
		{"length huge", func(b []byte) []byte { b[offLength+3] = 0xff; return b }, ErrLength},
		{"codec", func(b []byte) []byte { b[offFlags] = 3; return b }, ErrCodec},
		{"crc", func(b []byte) []byte { b[len(b)-1] ^= 1; return b }, ErrCRC},
		{"count", func(b []byte) []byte { b[offCount] = 2; return fixCRC(b) }, ErrMalformed},
		{"record length", func(b []byte) []byte { b[len(b)-1] = 0xff; return fixCRC(b) }, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Decode(tt.mut(bytes.Clone(good)))
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
}

func fixCRC(b []byte) []byte {
	var bld Builder
	bld.buf = b
	h, _ := ParseHeader(b)
	bld.count = h.Count
	bld.firstTS, bld.maxTS, bld.producer, bld.sequence = h.FirstTimestamp, h.MaxTimestamp, h.Producer, h.Sequence
	return bld.Bytes()
}

func TestBuilderNoAllocsPerRecord(t *testing.T) {
	var b Builder
	body := bytes.Repeat([]byte("x"), 200)
	b.Reset(1, nil)
	for b.Len() < 256<<10 {
		b.Add(1, body)
	}
	allocs := testing.AllocsPerRun(100, func() {
		b.Reset(1, nil)
		for i := 0; i < 1000; i++ {
			b.Add(int64(i), body)
		}
		b.Bytes()
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per batch of 1000 records", allocs)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(goldenBatch())
	f.Add([]byte{})
	f.Add(make([]byte, HeaderSize))
	f.Fuzz(func(t *testing.T, b []byte) {
		bt, n, err := Decode(b)
		if err != nil {
			return
		}
		if n > len(b) || n < HeaderSize {
			t.Fatalf("size %d of %d", n, len(b))
		}
		it := bt.Records()
		var r Record
		count := 0
		for it.Next(&r) {
			ai := r.Attrs()
			for _, _, ok := ai.Next(); ok; _, _, ok = ai.Next() {
			}
			count++
		}
		if it.Err() != nil || uint32(count) != bt.Count {
			t.Fatalf("validated batch failed iteration: %v, %d/%d", it.Err(), count, bt.Count)
		}
	})
}

func BenchmarkBuild200(b *testing.B) {
	var bld Builder
	body := bytes.Repeat([]byte("x"), 200)
	b.SetBytes(200)
	b.ReportAllocs()
	bld.Reset(1, nil)
	for i := 0; i < b.N; i++ {
		if bld.Len() >= 256<<10 {
			bld.Bytes()
			bld.Reset(1, nil)
		}
		bld.Add(int64(i), body)
	}
}

func BenchmarkDecode200(b *testing.B) {
	var bld Builder
	body := bytes.Repeat([]byte("x"), 200)
	bld.Reset(1, nil)
	for bld.Len() < 256<<10 {
		bld.Add(1, body)
	}
	buf := bld.Bytes()
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
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
}

// Restamp yields exactly the batch a Builder makes with that producer and
// sequence: only those two fields and the CRC change, and the batch stays
// valid. Trailing bytes after the batch are left alone.
func TestRestamp(t *testing.T) {
	build := func(producer, seq uint64) []byte {
		var b Builder
		b.Reset(producer, []Attr{StringAttr("src", "udp")})
		b.Add(1, []byte("one"))
		b.Add(2, []byte("two"))
		b.SetSequence(seq)
		out := bytes.Clone(b.Bytes())
		SetBaseOffset(out, 77)
		return out
	}
	got := append(build(0, 0), 0xee, 0xee)
	Restamp(got, 1<<63|42, 79)
	want := build(1<<63|42, 79)
	if !bytes.Equal(got[:len(want)], want) || got[len(want)] != 0xee {
		t.Fatalf("restamped\n%x\nwant\n%x", got, want)
	}
	h, _, err := Check(got)
	if err != nil || h.Producer != 1<<63|42 || h.Sequence != 79 || h.BaseOffset != 77 {
		t.Fatalf("restamped batch: %+v %v", h, err)
	}
}
