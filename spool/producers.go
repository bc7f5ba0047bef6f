package spool

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync/atomic"

	"github.com/capstan-agent/capstan/spool/batch"
)

// producerTable holds, per producer, the highest sequence stored in a
// partition and the offset after its last batch. It is what lets a spool drop
// a batch it already holds (docs/architecture.md, "exactly once").
//
// It is rebuilt at open from the snapshot written when the active segment was
// created — the table as of that segment's base offset, which names immutable
// data and so cannot disagree with it — plus the headers of the active
// segment.
type producerTable struct {
	m map[uint64]producerEntry
}

type producerEntry struct {
	seq  uint64 // highest sequence stored
	next uint64 // offset after the producer's last batch
}

// seen reports whether a batch of producer with sequence seq is stored
// already. Producer 0 means a source without identity: never deduplicated.
func (t *producerTable) seen(producer, seq uint64) bool {
	if producer == 0 {
		return false
	}
	e, ok := t.m[producer]
	return ok && seq <= e.seq
}

func (t *producerTable) record(producer, seq, next uint64) {
	if producer == 0 {
		return
	}
	if t.m == nil {
		t.m = make(map[uint64]producerEntry)
	}
	if e, ok := t.m[producer]; !ok || seq > e.seq {
		t.m[producer] = producerEntry{seq: seq, next: next}
	}
}

var snapshotMagic = [4]byte{'C', 'P', 'S', '1'}

const snapshotEntrySize = 24

// snapshot encodes the table as of offset base, forgetting producers whose
// batches all lie before oldest (they left the spool with their segments).
// The caller holds the partition's lock; the bytes are written later.
func (t *producerTable) snapshot(base, oldest uint64) []byte {
	b := make([]byte, 0, 20+len(t.m)*snapshotEntrySize)
	b = append(b, snapshotMagic[:]...)
	b = binary.LittleEndian.AppendUint64(b, base)
	b = binary.LittleEndian.AppendUint32(b, 0)
	n := uint32(0)
	for id, e := range t.m {
		if e.next <= oldest {
			delete(t.m, id)
			continue
		}
		b = binary.LittleEndian.AppendUint64(b, id)
		b = binary.LittleEndian.AppendUint64(b, e.seq)
		b = binary.LittleEndian.AppendUint64(b, e.next)
		n++
	}
	binary.LittleEndian.PutUint32(b[12:], n)
	return binary.LittleEndian.AppendUint32(b, batch.Checksum(b))
}

var errBadSnapshot = errors.New("bad producer snapshot")

// loadSnapshot reads a snapshot written for offset base.
func loadSnapshot(path string, base uint64, read *atomic.Int64) (map[uint64]producerEntry, error) {
	b, err := os.ReadFile(path)
	read.Add(int64(len(b)))
	if err != nil {
		return nil, err
	}
	m, err := decodeSnapshot(b, base)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// decodeSnapshot checks and decodes the bytes of a snapshot written for
// offset base (docs/format.md).
func decodeSnapshot(b []byte, base uint64) (map[uint64]producerEntry, error) {
	if len(b) < 20 || [4]byte(b[:4]) != snapshotMagic {
		return nil, fmt.Errorf("%w: header", errBadSnapshot)
	}
	body, sum := b[:len(b)-4], binary.LittleEndian.Uint32(b[len(b)-4:])
	if batch.Checksum(body) != sum {
		return nil, fmt.Errorf("%w: crc", errBadSnapshot)
	}
	n := binary.LittleEndian.Uint32(body[12:])
	if binary.LittleEndian.Uint64(body[4:]) != base || int64(len(body)-16) != int64(n)*snapshotEntrySize {
		return nil, fmt.Errorf("%w: size", errBadSnapshot)
	}
	m := make(map[uint64]producerEntry, n)
	for e := body[16:]; len(e) > 0; e = e[snapshotEntrySize:] {
		m[binary.LittleEndian.Uint64(e)] = producerEntry{
			seq:  binary.LittleEndian.Uint64(e[8:]),
			next: binary.LittleEndian.Uint64(e[16:]),
		}
	}
	return m, nil
}
