package delivery

import (
	"testing"

	"github.com/capstan-agent/capstan/spool"
	"github.com/capstan-agent/capstan/spool/batch"
)

// FuzzForEachRecord: whatever bytes a partition holds, walking them as
// records never panics, reads out of bounds or returns a record before
// from; and a run of good batches gives each record once, in order.
func FuzzForEachRecord(f *testing.F) {
	var b batch.Builder
	b.Reset(7, []batch.Attr{batch.StringAttr("host.name", "h")})
	b.AddWithAttrs(1, []byte("first"), []batch.Attr{batch.StringAttr("level", "warn")})
	b.Add(2, []byte("second"))
	good := append([]byte(nil), b.Bytes()...)
	f.Add(good, uint64(0))
	f.Add(good, uint64(1))
	f.Add(good[:len(good)-3], uint64(0))
	f.Add([]byte("not a batch at all, but long enough to look like a header of one"), uint64(0))
	f.Fuzz(func(t *testing.T, data []byte, from uint64) {
		last, n := uint64(0), 0
		err := ForEachRecord(data, from, spool.Key{Stream: "s"}, func(rec *Record) error {
			if rec.Offset < from || n > 0 && rec.Offset <= last {
				t.Fatalf("record at %d (from %d, after %d)", rec.Offset, from, last)
			}
			it, src := rec.Attrs(), rec.SourceAttrs()
			for _, _, ok := it.Next(); ok; _, _, ok = it.Next() {
			}
			for _, _, ok := src.Next(); ok; _, _, ok = src.Next() {
			}
			_ = AppendNDJSON(nil, rec)
			last, n = rec.Offset, n+1
			return nil
		})
		if err == nil && len(data) > 0 && n == 0 && from == 0 {
			// A run that decodes from offset 0 with no error holds records
			// only if a batch is not empty; an empty batch is legal.
			if _, _, derr := batch.Decode(data); derr != nil {
				t.Fatalf("bytes that do not decode walked without an error")
			}
		}
	})
}
