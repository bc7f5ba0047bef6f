package batch

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// The fixed header of a batch, the same in every version. All integers are
// little-endian. See docs/format.md.
//
//	off size field
//	  0    8 base_offset      (outside the CRC: rewritten by the spool at append)
//	  8    4 length           bytes that follow this field
//	 12    1 magic            format version
//	 13    4 crc              CRC-32C (Castagnoli) of bytes [17, 12+length)
//	 17    2 flags            bits 0-2: codec of the record section
//	 19    4 count            number of records
//	 23    8 first_timestamp  unix nanoseconds
//	 31    8 max_timestamp    unix nanoseconds
//	 39    8 producer         source identity, 0 = none
//	 47    8 sequence         source position just past this batch
//	 55    - v1: source attributes, then records
//	 55    8 v2: observed_time    unix nanoseconds (inside the CRC)
//	 63    - v2: source attributes, then records (attributes carry a kind)
const (
	offBaseOffset = 0
	offLength     = 8
	offMagic      = 12
	offCRC        = 13
	offFlags      = 17
	offCount      = 19
	offFirstTS    = 23
	offMaxTS      = 31
	offProducer   = 39
	offSequence   = 47
	offObserved   = 55 // version 2 only

	// HeaderSize is the size of the fixed header, the same in every
	// version: it is all a reader needs to find, size and check a batch.
	HeaderSize = 55
	// LogOverhead is the part of a batch not counted by its length field.
	LogOverhead = offMagic
	// headerSizeV2 is where a version 2 batch's source attributes start.
	headerSizeV2 = offObserved + 8
	// MaxBatchSize bounds a batch, header included. Decoders refuse larger
	// length fields before allocating or reading anything.
	MaxBatchSize = 64 << 20
)

// Format versions (the magic byte). Every reader reads every version up to
// the newest it knows; a Builder writes MagicV1 unless asked for MagicV2.
const (
	// MagicV1: attributes are untyped byte strings.
	MagicV1 byte = 1
	// MagicV2: attributes and bodies carry a Kind; the batch carries the
	// time the input built it.
	MagicV2 byte = 2
	// MaxMagic is the newest version this package reads and writes.
	MaxMagic = MagicV2
)

// KnownMagic reports whether m is a format version this package reads.
func KnownMagic(m byte) bool { return m >= MagicV1 && m <= MaxMagic }

// Codec is the compression of the record section, kept in the low bits of flags.
type Codec uint16

// CodecNone is the only codec of format versions 1 and 2.
const CodecNone Codec = 0

const codecMask = 0x7

// castagnoli is the module's one CRC-32C table: every checksum capstan
// writes (batches, producer snapshots) goes through Checksum.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Checksum is the CRC-32C (Castagnoli) of b, the checksum of every capstan
// on-disk and wire format (docs/format.md).
func Checksum(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

// Header is the fixed part of a batch.
type Header struct {
	BaseOffset     uint64
	Length         uint32
	Magic          byte
	CRC            uint32
	Flags          uint16
	Count          uint32
	FirstTimestamp int64
	MaxTimestamp   int64
	Producer       uint64
	Sequence       uint64
}

// Size is the whole size of the batch in bytes.
func (h *Header) Size() int64 { return int64(h.Length) + LogOverhead }

// NextOffset is the offset just past the batch's last record.
func (h *Header) NextOffset() uint64 { return h.BaseOffset + uint64(h.Count) }

// Codec is the compression of the record section.
func (h *Header) Codec() Codec { return Codec(h.Flags & codecMask) }

// Errors a decoder returns; a caller tells them apart with errors.Is.
var (
	ErrShort     = errors.New("batch: truncated")
	ErrMagic     = errors.New("batch: unknown magic")
	ErrLength    = errors.New("batch: bad length")
	ErrCRC       = errors.New("batch: crc mismatch")
	ErrCodec     = errors.New("batch: unknown codec")
	ErrMalformed = errors.New("batch: malformed record section")
	ErrOffsets   = errors.New("batch: record offsets past 2^64")
)

// ParseHeader reads and checks the fixed header: a known magic, a length
// within bounds for that version and a known codec. It reads no further than HeaderSize bytes and does
// not check the CRC; Check does.
func ParseHeader(b []byte) (Header, error) {
	var h Header
	if len(b) < HeaderSize {
		return h, ErrShort
	}
	h.BaseOffset = binary.LittleEndian.Uint64(b[offBaseOffset:])
	h.Length = binary.LittleEndian.Uint32(b[offLength:])
	h.Magic = b[offMagic]
	h.CRC = binary.LittleEndian.Uint32(b[offCRC:])
	h.Flags = binary.LittleEndian.Uint16(b[offFlags:])
	h.Count = binary.LittleEndian.Uint32(b[offCount:])
	h.FirstTimestamp = int64(binary.LittleEndian.Uint64(b[offFirstTS:]))
	h.MaxTimestamp = int64(binary.LittleEndian.Uint64(b[offMaxTS:]))
	h.Producer = binary.LittleEndian.Uint64(b[offProducer:])
	h.Sequence = binary.LittleEndian.Uint64(b[offSequence:])
	minSize := int64(HeaderSize)
	switch h.Magic {
	case MagicV1:
	case MagicV2:
		minSize = headerSizeV2
	default:
		return h, fmt.Errorf("%w %d", ErrMagic, h.Magic)
	}
	if h.Size() < minSize || h.Size() > MaxBatchSize {
		return h, fmt.Errorf("%w %d", ErrLength, h.Length)
	}
	if h.Codec() != CodecNone {
		return h, fmt.Errorf("%w %d", ErrCodec, h.Codec())
	}
	if h.NextOffset() < h.BaseOffset { // a damaged base offset: the records' offsets would wrap
		return h, fmt.Errorf("%w: base offset %d, %d records", ErrOffsets, h.BaseOffset, h.Count)
	}
	return h, nil
}

// Check validates a whole batch held in b: header, exact size and CRC. It
// returns the header and the batch's size, so that a caller can walk a run of
// batches with b = b[size:].
func Check(b []byte) (Header, int, error) {
	h, err := ParseHeader(b)
	if err != nil {
		return h, 0, err
	}
	size := int(h.Size())
	if len(b) < size {
		return h, 0, ErrShort
	}
	if Checksum(b[offFlags:size]) != h.CRC {
		return h, 0, ErrCRC
	}
	return h, size, nil
}

// SetBaseOffset rewrites the base offset of the batch that starts at b[0]. The
// CRC does not cover it, so nothing else changes.
func SetBaseOffset(b []byte, base uint64) {
	binary.LittleEndian.PutUint64(b[offBaseOffset:], base)
}

// Restamp gives the whole batch held in b (its header's length says how much
// of b that is) a new producer and sequence, and recomputes its CRC, which
// covers both. The caller has checked the batch (Check): Restamp trusts the
// header.
func Restamp(b []byte, producer, sequence uint64) {
	size := int(int64(binary.LittleEndian.Uint32(b[offLength:])) + LogOverhead)
	binary.LittleEndian.PutUint64(b[offProducer:], producer)
	binary.LittleEndian.PutUint64(b[offSequence:], sequence)
	binary.LittleEndian.PutUint32(b[offCRC:], Checksum(b[offFlags:size]))
}

// BaseOffset returns the base offset of the batch that starts at b[0].
func BaseOffset(b []byte) uint64 { return binary.LittleEndian.Uint64(b[offBaseOffset:]) }
