package recordid

import (
	"encoding/binary"
	"hash/fnv"
)

// Origin is where a batch came from; a record is its origin and its index.
type Origin struct {
	Producer, Sequence uint64
}

// Of is the origin of a batch as an output sees it: its own producer and
// sequence, or, for a batch without a producer (producer 0: an input
// without a source identity, such as UDP), the ones a capstan core would
// stamp when it receives it from this agent (DerivedProducer, and the
// offset past the batch). base is the batch's first offset, count its
// number of records.
func Of(agent [16]byte, stream string, partition int, producer, sequence, base uint64, count int) Origin {
	if producer != 0 {
		return Origin{Producer: producer, Sequence: sequence}
	}
	return Origin{Producer: DerivedProducer(agent, stream, partition), Sequence: base + uint64(count)}
}

// DerivedProducer is the producer a capstan core gives a batch that has
// none when it receives it from an edge, with the edge offset past the
// batch as its sequence (docs/protocol.md, "Exactly once, edge to core").
// An output on the edge itself derives the same, so the ids of such records
// do not change when a core is put between the edge and the destination.
func DerivedProducer(agent [16]byte, stream string, partition int) uint64 {
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

// Seed is the part of the hash a batch's records share: computed once per
// batch, then AppendULID per record.
func (o Origin) Seed() uint64 { return mix64(mix64(o.Producer^0x9e3779b97f4a7c15) ^ o.Sequence) }

// ULIDLen is the length of what AppendULID appends.
const ULIDLen = 26

// AppendULID appends the id of record index of a batch whose origin's
// seed is seed, of time ts (unix nanoseconds): a ULID (26 characters of
// Crockford's base32), 48 bits of the time in milliseconds, so that ids
// sort by time, and 80 bits of a hash of the origin and the index.
func AppendULID(b []byte, seed uint64, index int, ts int64) []byte {
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
	var out [ULIDLen]byte
	for i := ULIDLen - 1; i >= 0; i-- {
		out[i] = crockford[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
	return append(b, out[:]...)
}
