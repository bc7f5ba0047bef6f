// Package hashset is a set of 64-bit hashes for the fakes with storage
// off (esfake's live ids, lokifake's entries): open addressing with linear
// probing over one slice, so that a lookup costs one probe where a Go map
// costs a group's control word and a slot, and growing moves no buckets
// (the set holds millions of hashes under a benchmark). Deletion leaves a
// tombstone.
package hashset

// Set is a set of hashes; the zero value is empty and ready.
type Set struct {
	slots    []uint64 // 0 empty, 1 deleted, else a hash
	reserved [2]bool  // the hashes 0 and 1, which are kept aside
	live     int
	used     int // live and deleted slots
}

// Len is the number of hashes in the set.
func (s *Set) Len() int { return s.live }

const (
	slotEmpty   = 0
	slotDeleted = 1
)

// Has reports whether h is in the set.
func (s *Set) Has(h uint64) bool {
	if h <= slotDeleted {
		return s.reserved[h]
	}
	if len(s.slots) == 0 {
		return false
	}
	mask := uint64(len(s.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		switch s.slots[i] {
		case h:
			return true
		case slotEmpty:
			return false
		}
	}
}

// Add puts h in the set (a no-op when it is there already).
func (s *Set) Add(h uint64) {
	if h <= slotDeleted {
		if !s.reserved[h] {
			s.reserved[h] = true
			s.live++
		}
		return
	}
	if (s.used+1)*2 > len(s.slots) {
		s.rehash()
	}
	mask := uint64(len(s.slots) - 1)
	grave := -1
	for i := h & mask; ; i = (i + 1) & mask {
		switch s.slots[i] {
		case h:
			return
		case slotDeleted:
			if grave < 0 {
				grave = int(i)
			}
		case slotEmpty:
			if grave >= 0 {
				s.slots[grave] = h
			} else {
				s.slots[i] = h
				s.used++
			}
			s.live++
			return
		}
	}
}

// Remove takes h out of the set (a no-op when it is not there).
func (s *Set) Remove(h uint64) {
	if h <= slotDeleted {
		if s.reserved[h] {
			s.reserved[h] = false
			s.live--
		}
		return
	}
	if len(s.slots) == 0 {
		return
	}
	mask := uint64(len(s.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		switch s.slots[i] {
		case h:
			s.slots[i] = slotDeleted
			s.live--
			return
		case slotEmpty:
			return
		}
	}
}

// rehash grows the table (or only drops the tombstones) so that it is at
// most a quarter full after.
func (s *Set) rehash() {
	n := 1024
	for n < s.live*4 {
		n *= 2
	}
	old := s.slots
	s.slots, s.used = make([]uint64, n), 0
	mask := uint64(n - 1)
	for _, h := range old {
		if h <= slotDeleted {
			continue
		}
		i := h & mask
		for s.slots[i] != slotEmpty {
			i = (i + 1) & mask
		}
		s.slots[i] = h
		s.used++
	}
}

// Touch reads the slot where a lookup of h starts and returns it, so that a
// caller can have the memory of many lookups fetched at once (the loads are
// independent) before doing them one by one.
func (s *Set) Touch(h uint64) uint64 {
	if len(s.slots) == 0 {
		return 0
	}
	return s.slots[h&uint64(len(s.slots)-1)]
}
