package spool

import (
	"bytes"
	"errors"
	"maps"
	"testing"
)

// FuzzDecodeIndex: an index file's bytes never panic the decoder, and what
// it keeps is a prefix of the file of strictly increasing entries that point
// inside the segment and past its first batch.
func FuzzDecodeIndex(f *testing.F) {
	var good []byte
	for _, e := range []indexEntry{{3, 100}, {9, 4000}, {20, 9000}} {
		good = appendIndexEntry(good, e)
	}
	f.Add(good, int64(10000))
	f.Add(good, int64(5000))            // the last entry points past the end
	f.Add(good[:len(good)-3], int64(1)) // a partial entry
	f.Add([]byte{}, int64(0))
	f.Fuzz(func(t *testing.T, b []byte, limit int64) {
		idx := decodeIndex(b, limit)
		if len(idx)*indexEntrySize > len(b) {
			t.Fatalf("%d entries from %d bytes", len(idx), len(b))
		}
		var again []byte
		for i, e := range idx {
			if e.pos == 0 || int64(e.pos) >= limit {
				t.Fatalf("entry %d points at %d (limit %d)", i, e.pos, limit)
			}
			if i > 0 && (e.rel <= idx[i-1].rel || e.pos <= idx[i-1].pos) {
				t.Fatalf("entry %d out of order: %+v after %+v", i, e, idx[i-1])
			}
			again = appendIndexEntry(again, e)
		}
		if !bytes.Equal(again, b[:len(again)]) {
			t.Fatal("kept entries are not a prefix of the file")
		}
	})
}

// FuzzDecodeSnapshot: a producer snapshot's bytes never panic the decoder,
// never allocate beyond what they hold, and what decodes encodes back to a
// snapshot that decodes to the same table.
func FuzzDecodeSnapshot(f *testing.F) {
	var pt producerTable
	pt.record(7, 100, 40)
	pt.record(1<<63|9, 5, 41)
	good := pt.snapshot(32, 0)
	f.Add(good, uint64(32))
	f.Add(good, uint64(33)) // written for another base
	f.Add(good[:len(good)-1], uint64(32))
	f.Add((&producerTable{}).snapshot(0, 0), uint64(0))
	f.Fuzz(func(t *testing.T, b []byte, base uint64) {
		m, err := decodeSnapshot(b, base)
		if err != nil {
			if !errors.Is(err, errBadSnapshot) {
				t.Fatalf("error %v does not wrap errBadSnapshot", err)
			}
			return
		}
		if len(m)*snapshotEntrySize > len(b) {
			t.Fatalf("%d entries from %d bytes", len(m), len(b))
		}
		kept := maps.Clone(m)
		maps.DeleteFunc(kept, func(_ uint64, e producerEntry) bool { return e.next == 0 }) // forgotten: nothing of them is left
		again, err := decodeSnapshot((&producerTable{m: maps.Clone(kept)}).snapshot(base, 0), base)
		if err != nil || !maps.Equal(again, kept) {
			t.Fatalf("re-encoded snapshot: %v, %v != %v", err, again, kept)
		}
	})
}

// FuzzDecodeCheckpoint: a checkpoint file's bytes never panic the decoder;
// every failure is ErrBadCheckpoint; what decodes encodes back to the same
// offsets.
func FuzzDecodeCheckpoint(f *testing.F) {
	f.Add(encodeCheckpoint(map[Key]uint64{{"logs", 0}: 10, {"logs", 3}: 1 << 40, {"a-b", 1}: 0}))
	f.Add([]byte(`{"version":1,"offsets":{}}`))
	f.Add([]byte(`{"version":2,"offsets":{"logs/0":1}}`))
	f.Add([]byte(`{"version":1,"offsets":{"logs/-1":1}}`))
	f.Add([]byte(`{"version":1,"offsets":{"/0":1}}`))
	f.Add([]byte(`{"version":1,"offsets":{"logs/0":-5}}`))
	f.Add([]byte(`{garbage`))
	f.Add([]byte(`{"version":1,"offsets":{"logs/0":1},"crc32c":12345}`))
	f.Add([]byte(`{"version":1,"offsets":{"logs/0":1},"crc32c":-1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		offs, err := decodeCheckpoint(b)
		if err != nil {
			if !errors.Is(err, ErrBadCheckpoint) {
				t.Fatalf("error %v does not wrap ErrBadCheckpoint", err)
			}
			return
		}
		for k := range offs {
			if k.Stream == "" || k.Partition < 0 {
				t.Fatalf("bad key %+v accepted", k)
			}
		}
		again, err := decodeCheckpoint(encodeCheckpoint(offs))
		if err != nil || !maps.Equal(again, offs) {
			t.Fatalf("re-encoded: %v, %v != %v", err, again, offs)
		}
	})
}
