package otlp

import (
	"encoding/binary"
	"hash/fnv"
)

// The log.record.uid attribute names a record by where it came from, so
// that a destination can drop a record it already holds when capstan sends
// it again (after a kill, a lost answer). docs/output-otlp.md argues why
// these inputs are stable.
//
// It is a ULID (26 characters of Crockford's base32): 48 bits of the
// record's time in milliseconds, so that ids sort by time, and 80 bits of a
// hash of the batch's producer and sequence and the record's index in it.

// AttrRecordUID is the attribute's name (OpenTelemetry semantic conventions).
const AttrRecordUID = "log.record.uid"

// origin is where a batch came from; a record is its origin and its index.
type origin struct {
	producer, sequence uint64
}

// derivedProducer is the producer a capstan core gives a batch that has
// none (producer 0: an input without source identity, such as UDP) when it
// receives it from an edge, with the edge offset past the batch as its
// sequence (docs/protocol.md, "Exactly once, edge to core"). An output on
// the edge itself derives the same, so the ids of such records do not
// change when a core is put between the edge and the destination.
func derivedProducer(agent [16]byte, stream string, partition int) uint64 {
	h := fnv.New64a()
	h.Write([]byte("capstan-forward"))
	h.Write(agent[:])
	h.Write([]byte(stream))
	var p [4]byte
	binary.LittleEndian.PutUint32(p[:], uint32(partition))
	h.Write(p[:])
	return h.Sum64() | 1<<63
}

// mix64 is the finaliser of splitmix64: a bijection with good avalanche.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// seed is the part of the hash a batch's records share.
func (o origin) seed() uint64 { return mix64(mix64(o.producer^0x9e3779b97f4a7c15) ^ o.sequence) }

// appendUID appends the ULID of record index of a batch whose origin's
// seed is seed, of time ts (unix nanoseconds).
func appendUID(b []byte, seed uint64, index int, ts int64) []byte {
	c := mix64(seed ^ uint64(index))
	d := mix64(c ^ 0xd1b54a32d192ed03)
	ms := uint64(0)
	if ts > 0 {
		ms = uint64(ts/1e6) & (1<<48 - 1)
	}
	// 128 bits: 48 of time, then 80 of hash (16 of c, 64 of d).
	hi := ms<<16 | c>>48
	lo := d
	// 26 base-32 digits of the 130-bit number hi:lo (top 2 bits zero),
	// from the most significant.
	var out [26]byte
	for i := 25; i >= 0; i-- {
		out[i] = crockford[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
	return append(b, out[:]...)
}
