package lokifake

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

// TestStorageOffAgrees pushes the same random pushes (in order, replayed,
// out of order, repeated lines, several streams) to a fake with storage and
// one without: the answers and the counts must be the same, as the
// storage-off path only keeps hashes and skips lookups it can prove useless.
func TestStorageOffAgrees(t *testing.T) {
	on := Start(t, Options{Now: clock, OutOfOrderWindow: 30 * time.Second})
	off := Start(t, Options{Now: clock, OutOfOrderWindow: 30 * time.Second, StorageOff: true})
	r := rand.New(rand.NewPCG(3, 4))
	base := now.Add(-10 * time.Minute)
	for i := range 400 {
		var ss []pushStream
		for range 1 + r.IntN(3) {
			var es []Entry
			for range r.IntN(6) {
				ts := base.Add(time.Duration(i+r.IntN(40)-30) * time.Second).Add(time.Duration(r.IntN(3)))
				es = append(es, entry(ts, fmt.Sprintf("l%d", r.IntN(4))))
			}
			ss = append(ss, strm(fmt.Sprintf(`{app="a%d"}`, r.IntN(3)), es...))
		}
		a, b := push(t, on, ss...), push(t, off, ss...)
		if a.status != b.status || a.body != b.body {
			t.Fatalf("push %d: storage on %+v, off %+v", i, a, b)
		}
	}
	a, b := on.Stats(), off.Stats()
	a.BytesDecoded, b.BytesDecoded = 0, 0
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("stats differ:\non  %+v\noff %+v", a, b)
	}
	if a.Duplicates == 0 || a.Refused["too_far_behind"] == 0 {
		t.Fatalf("the pushes exercise too little: %+v", a)
	}
}
