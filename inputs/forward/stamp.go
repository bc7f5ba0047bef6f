package forward

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"

	"github.com/capstan-agent/capstan/spool/batch"
)

// source names one partition of one sender: where a DATA frame comes from.
type source struct {
	agent     [16]byte
	stream    string
	partition uint32
}

func (s source) hash(salt string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(salt))
	h.Write(s.agent[:])
	h.Write([]byte(s.stream))
	var p [4]byte
	binary.LittleEndian.PutUint32(p[:], s.partition)
	h.Write(p[:])
	return h.Sum64()
}

// producer is the identity given to a sender partition's batches that have
// none (docs/protocol.md §4). The top bit keeps it apart from inputs' ids.
func (s source) producer() uint64 { return s.hash("capstan-forward") | 1<<63 }

// target picks the receiving partition: always the same one for a sender
// partition, so its dedup state lives in one place.
func (s source) target(partitions int) int {
	return int(s.hash("capstan-partition") % uint64(partitions))
}

// checkAndStamp validates the batches of a DATA payload against the frame's
// offsets, and gives every batch with producer 0 the sender partition's
// producer and its edge offset as sequence, re-signing its CRC. It changes b
// only after every batch passed.
func checkAndStamp(b []byte, first, last uint64, src source) (batches, records int, err error) {
	next := first
	for rest := b; len(rest) > 0; {
		h, size, err := batch.Check(rest)
		if err != nil {
			return 0, 0, fmt.Errorf("batch %d at payload byte %d: %w", batches, len(b)-len(rest), err)
		}
		if h.Count == 0 {
			return 0, 0, fmt.Errorf("batch %d: no records", batches)
		}
		if h.BaseOffset != next {
			return 0, 0, fmt.Errorf("batch %d: base offset %d, want %d", batches, h.BaseOffset, next)
		}
		next += uint64(h.Count)
		records += int(h.Count)
		batches++
		rest = rest[size:]
	}
	if next != last+1 {
		return 0, 0, fmt.Errorf("batches end at offset %d, frame says last %d", next-1, last)
	}
	var producer uint64
	for rest := b; len(rest) > 0; {
		h, _ := batch.ParseHeader(rest)
		if h.Producer == 0 {
			if producer == 0 {
				producer = src.producer()
			}
			batch.Restamp(rest, producer, h.NextOffset())
		}
		rest = rest[h.Size():]
	}
	return batches, records, nil
}
