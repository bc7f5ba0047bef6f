package batch

import (
	"encoding/binary"
)

// Attr is a key/value attribute of a source or a record.
type Attr struct {
	Key, Value []byte
}

// StringAttr makes an Attr from strings; it copies, so use it off the hot path.
func StringAttr(key, value string) Attr {
	return Attr{Key: []byte(key), Value: []byte(value)}
}

// Builder builds one batch at a time into a buffer it reuses, with no
// allocation per record once the buffer has grown to the batch size. The zero
// value is ready after Reset.
type Builder struct {
	buf      []byte
	count    uint32
	firstTS  int64
	maxTS    int64
	producer uint64
	sequence uint64
}

// Reset starts a new batch for a source: its producer identity (0 for none)
// and the attributes shared by all its records.
func (b *Builder) Reset(producer uint64, attrs []Attr) {
	b.buf = append(b.buf[:0], make([]byte, HeaderSize)...)
	b.buf = binary.AppendUvarint(b.buf, uint64(len(attrs)))
	for _, a := range attrs {
		b.buf = appendBytes(b.buf, a.Key)
		b.buf = appendBytes(b.buf, a.Value)
	}
	b.count, b.firstTS, b.maxTS = 0, 0, 0
	b.producer, b.sequence = producer, 0
}

// Add appends a record with a timestamp in unix nanoseconds and no attributes.
func (b *Builder) Add(ts int64, body []byte) { b.AddWithAttrs(ts, body, nil) }

// AddWithAttrs appends a record with attributes of its own.
func (b *Builder) AddWithAttrs(ts int64, body []byte, attrs []Attr) {
	if b.count == 0 {
		b.firstTS, b.maxTS = ts, ts
	} else if ts > b.maxTS {
		b.maxTS = ts
	}
	delta := ts - b.firstTS
	n := varintLen(delta) + uvarintLen(uint64(len(attrs))) + len(body)
	for _, a := range attrs {
		n += uvarintLen(uint64(len(a.Key))) + len(a.Key) + uvarintLen(uint64(len(a.Value))) + len(a.Value)
	}
	b.buf = binary.AppendUvarint(b.buf, uint64(n))
	b.buf = binary.AppendVarint(b.buf, delta)
	b.buf = binary.AppendUvarint(b.buf, uint64(len(attrs)))
	for _, a := range attrs {
		b.buf = appendBytes(b.buf, a.Key)
		b.buf = appendBytes(b.buf, a.Value)
	}
	b.buf = append(b.buf, body...)
	b.count++
}

// SetSequence records the source position just past this batch (for a file:
// the byte offset after its last line).
func (b *Builder) SetSequence(seq uint64) { b.sequence = seq }

// Count is the number of records added since Reset.
func (b *Builder) Count() int { return int(b.count) }

// Len is the size the batch has so far, header included.
func (b *Builder) Len() int { return len(b.buf) }

// Bytes finishes the batch, with base offset 0, and returns it. The slice is
// the builder's buffer: valid until the next Reset.
func (b *Builder) Bytes() []byte {
	buf := b.buf
	le := binary.LittleEndian
	le.PutUint64(buf[offBaseOffset:], 0)
	le.PutUint32(buf[offLength:], uint32(len(buf)-LogOverhead))
	buf[offMagic] = Magic
	le.PutUint16(buf[offFlags:], uint16(CodecNone))
	le.PutUint32(buf[offCount:], b.count)
	le.PutUint64(buf[offFirstTS:], uint64(b.firstTS))
	le.PutUint64(buf[offMaxTS:], uint64(b.maxTS))
	le.PutUint64(buf[offProducer:], b.producer)
	le.PutUint64(buf[offSequence:], b.sequence)
	le.PutUint32(buf[offCRC:], Checksum(buf[offFlags:]))
	return buf
}

func appendBytes(dst, p []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(p)))
	return append(dst, p...)
}

func uvarintLen(x uint64) int {
	n := 1
	for x >= 0x80 {
		x >>= 7
		n++
	}
	return n
}

func varintLen(x int64) int {
	ux := uint64(x) << 1
	if x < 0 {
		ux = ^ux
	}
	return uvarintLen(ux)
}
