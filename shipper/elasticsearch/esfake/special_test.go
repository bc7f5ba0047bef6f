package esfake

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"
)

// TestSpecial8 checks special8 against a byte-by-byte reading, on words
// made of bytes near the edges it tests.
func TestSpecial8(t *testing.T) {
	edges := []byte{0, 1, 0x1f, 0x20, 0x21, '"' - 1, '"', '"' + 1, '\\' - 1, '\\', '\\' + 1, 'x', 0x7f, 0x80, 0x81, 0xff}
	r := rand.New(rand.NewPCG(5, 6))
	var b [8]byte
	for range 1 << 20 {
		want := false
		for i := range b {
			b[i] = edges[r.IntN(len(edges))]
			if r.IntN(2) == 0 {
				b[i] = 'a'
			}
			c := b[i]
			want = want || c < 0x20 || c == '"' || c == '\\' || c >= 0x80
		}
		if got := special8(binary.LittleEndian.Uint64(b[:])); got != want {
			t.Fatalf("special8(%q) = %v", b[:], got)
		}
	}
}

// TestPlainASCII checks plainASCII against a byte-by-byte reading, on
// strings of every length up to 40 (the word loop, the overlapping last
// word and the short tail) made of bytes near the edges it tests.
func TestPlainASCII(t *testing.T) {
	edges := []byte{0, 1, 0x1f, 0x20, 0x21, '"', '\\' - 1, '\\', '\\' + 1, 'x', 0x7e, 0x7f, 0x80, 0x81, 0xff}
	r := rand.New(rand.NewPCG(7, 8))
	for range 1 << 18 {
		b := make([]byte, r.IntN(41))
		want := true
		for i := range b {
			b[i] = 'a'
			if r.IntN(8) == 0 {
				b[i] = edges[r.IntN(len(edges))]
			}
			c := b[i]
			want = want && c >= 0x20 && c < 0x80 && c != '\\'
		}
		if got := plainASCII(b); got != want {
			t.Fatalf("plainASCII(%q) = %v", b, got)
		}
	}
}
