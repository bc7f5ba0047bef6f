package forward

import (
	"testing"

	"github.com/capstan-agent/capstan/spool/batch"
	"github.com/capstan-agent/capstan/spool/spooltest"
)

// FuzzCheckAndStamp feeds hostile DATA payloads to the receiver's batch
// checks: never a panic, and what passes is whole valid batches that end
// where the frame says.
func FuzzCheckAndStamp(f *testing.F) {
	one := spooltest.Batch(0, "x", 0, 3)
	batch.SetBaseOffset(one, 7)
	two := append(append([]byte(nil), one...), spooltest.Batch(5, "y", 0, 2)...)
	batch.SetBaseOffset(two[len(one):], 10)
	f.Add(one, uint64(7), uint64(9))
	f.Add(two, uint64(7), uint64(11))
	f.Add(one[:40], uint64(7), uint64(9))
	f.Add([]byte{}, uint64(0), uint64(0))
	f.Fuzz(func(t *testing.T, b []byte, first, last uint64) {
		src := source{agent: [16]byte{1}, stream: "s", partition: 1}
		n, _, err := checkAndStamp(b, first, last, src)
		if err != nil {
			return
		}
		for rest := b; len(rest) > 0; n-- {
			h, size, err := batch.Check(rest)
			if err != nil {
				t.Fatalf("accepted payload holds a bad batch: %v", err)
			}
			if h.Producer == 0 {
				t.Fatal("batch left without producer")
			}
			rest = rest[size:]
		}
		if n != 0 {
			t.Fatalf("batch count off by %d", n)
		}
	})
}
