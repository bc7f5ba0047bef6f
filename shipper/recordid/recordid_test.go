package recordid

import "testing"

// TestStableAndDistinct: an id depends on the origin, the index and the
// time only; records of a batch, and batches, get distinct ids.
func TestStableAndDistinct(t *testing.T) {
	agent := [16]byte{1, 2, 3}
	seen := map[string]string{}
	for _, tc := range []struct {
		name                string
		producer, seq, base uint64
		count               int
		stream              string
		partition           int
	}{
		{"file batch", 0xabc, 4096, 0, 3, "default", 0},
		{"next batch", 0xabc, 8192, 3, 3, "default", 0},
		{"another file", 0xabd, 4096, 6, 3, "default", 1},
		{"udp on the edge", 0, 0, 100, 3, "default", 2},
	} {
		o := Of(agent, tc.stream, tc.partition, tc.producer, tc.seq, tc.base, tc.count)
		for i := range tc.count {
			id := string(AppendULID(nil, o.Seed(), i, 1_700_000_000_000_000_000))
			if len(id) != ULIDLen {
				t.Fatalf("%s: id %q", tc.name, id)
			}
			if again := string(AppendULID(nil, o.Seed(), i, 1_700_000_000_000_000_000)); again != id {
				t.Errorf("%s: %s then %s", tc.name, id, again)
			}
			if other, dup := seen[id]; dup {
				t.Errorf("%s record %d: id %s is also %s's", tc.name, i, id, other)
			}
			seen[id] = tc.name
		}
	}
	// A producer-0 batch on the edge, and the same batch as a core stamps it.
	edge := Of(agent, "default", 2, 0, 0, 100, 3)
	core := Of([16]byte{9}, "from-edges", 7, DerivedProducer(agent, "default", 2), 103, 5, 3)
	if edge != core {
		t.Errorf("edge origin %+v, core's %+v", edge, core)
	}
}

func TestULIDSortsByTime(t *testing.T) {
	s := Origin{Producer: 1, Sequence: 2}.Seed()
	a := string(AppendULID(nil, s, 0, 1_700_000_000_000_000_000))
	b := string(AppendULID(nil, s, 0, 1_700_000_000_001_000_000))
	if a >= b {
		t.Errorf("%s not before %s", a, b)
	}
}
