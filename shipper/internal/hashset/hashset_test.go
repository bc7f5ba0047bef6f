package hashset

import (
	"math/rand/v2"
	"testing"
)

// TestSet checks the set against a map under random adds and removes,
// with small hashes (the reserved slot values among them) and collisions
// of the low bits.
func TestSet(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var s Set
	m := map[uint64]bool{}
	for i := range 200000 {
		h := r.Uint64N(5000)
		if i%3 == 0 {
			h <<= 20 // equal low bits
		}
		switch r.IntN(3) {
		case 0, 1:
			s.Add(h)
			m[h] = true
		default:
			s.Remove(h)
			delete(m, h)
		}
		if got := s.Has(h); got != m[h] {
			t.Fatalf("step %d: has(%d) = %v, want %v", i, h, got, m[h])
		}
		if s.live != len(m) {
			t.Fatalf("step %d: %d live, want %d", i, s.live, len(m))
		}
	}
	for h := range uint64(5000) {
		if s.Has(h) != m[h] || s.Has(h<<20) != m[h<<20] {
			t.Fatalf("has(%d) disagrees with the map", h)
		}
	}
}
