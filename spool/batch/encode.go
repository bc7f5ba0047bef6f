package batch

import (
	"encoding/binary"
)

// Builder builds one batch at a time into a buffer it reuses, with no
// allocation per record once the buffer has grown to the batch size. The zero
// value is ready after Reset or ResetV2.
//
// A Builder never writes a batch that Decode refuses: in a version 2 batch a
// value that is not valid for its kind (ValidValue) is stored as a
// KindString holding the same bytes, and counted (Demoted).
type Builder struct {
	buf      []byte
	version  byte
	count    uint32
	firstTS  int64
	maxTS    int64
	observed int64
	producer uint64
	sequence uint64
	demoted  int
}

// Reset starts a new version 1 batch for a source: its producer identity (0
// for none) and the attributes shared by all its records. Version 1 keeps
// only the text of attributes: every kind but KindString is written as its
// text and counted in Demoted. An input without processors uses Reset: its
// batches are exactly as they always were.
func (b *Builder) Reset(producer uint64, attrs []Attr) {
	b.reset(MagicV1, producer, 0, attrs)
}

// ResetV2 starts a new version 2 batch: attributes and bodies keep their
// kinds, and the batch records observed, the time (unix nanoseconds) at
// which the input read its records — an output's "observed time" when the
// record's own time was parsed from the line. An input with processors uses
// ResetV2.
func (b *Builder) ResetV2(producer uint64, observed int64, attrs []Attr) {
	b.reset(MagicV2, producer, observed, attrs)
}

func (b *Builder) reset(version byte, producer uint64, observed int64, attrs []Attr) {
	b.version = version
	size := HeaderSize
	if version == MagicV2 {
		size = headerSizeV2
	}
	var zero [headerSizeV2]byte // Bytes fills it in
	b.buf = append(b.buf[:0], zero[:size]...)
	b.buf = binary.AppendUvarint(b.buf, uint64(len(attrs)))
	b.count, b.firstTS, b.maxTS, b.demoted = 0, 0, 0, 0
	b.producer, b.sequence, b.observed = producer, 0, observed
	for _, a := range attrs {
		b.appendAttr(a)
	}
}

// Add appends a record with a timestamp in unix nanoseconds and no attributes.
func (b *Builder) Add(ts int64, body []byte) { b.AddRecord(ts, KindString, body, nil) }

// AddWithAttrs appends a record with attributes of its own.
func (b *Builder) AddWithAttrs(ts int64, body []byte, attrs []Attr) {
	b.AddRecord(ts, KindString, body, attrs)
}

// AddRecord appends a record whose body has kind bodyKind (a processor may
// make the body a JSON object, say). Version 1 stores only the body's text.
func (b *Builder) AddRecord(ts int64, bodyKind Kind, body []byte, attrs []Attr) {
	if b.count == 0 {
		b.firstTS, b.maxTS = ts, ts
	} else if ts > b.maxTS {
		b.maxTS = ts
	}
	delta := ts - b.firstTS
	typed := b.version == MagicV2
	n := varintLen(delta) + uvarintLen(uint64(len(attrs))) + len(body)
	for _, a := range attrs {
		n += uvarintLen(uint64(len(a.Key))) + len(a.Key) + uvarintLen(uint64(len(a.Value))) + len(a.Value)
	}
	if typed {
		n += 1 + len(attrs) // the body's kind and each attribute's
	}
	b.buf = binary.AppendUvarint(b.buf, uint64(n))
	b.buf = binary.AppendVarint(b.buf, delta)
	if typed {
		b.buf = append(b.buf, byte(b.kind(bodyKind, body)))
	} else if bodyKind != KindString {
		b.demoted++
	}
	b.buf = binary.AppendUvarint(b.buf, uint64(len(attrs)))
	for _, a := range attrs {
		b.appendAttr(a)
	}
	b.buf = append(b.buf, body...)
	b.count++
}

func (b *Builder) appendAttr(a Attr) {
	b.buf = appendBytes(b.buf, a.Key)
	if b.version == MagicV2 {
		b.buf = append(b.buf, byte(b.kind(a.Kind, a.Value)))
	} else if a.Kind != KindString {
		b.demoted++
	}
	b.buf = appendBytes(b.buf, a.Value)
}

// kind is the kind a version 2 batch stores for a value given as k.
func (b *Builder) kind(k Kind, v []byte) Kind {
	if k == KindString || ValidValue(k, v) {
		return k
	}
	b.demoted++
	return KindString
}

// SetSequence records the source position just past this batch (for a file:
// the byte offset after its last line).
func (b *Builder) SetSequence(seq uint64) { b.sequence = seq }

// Count is the number of records added since Reset.
func (b *Builder) Count() int { return int(b.count) }

// Len is the size the batch has so far, header included.
func (b *Builder) Len() int { return len(b.buf) }

// Version is the format version of the batch being built (MagicV1 or MagicV2).
func (b *Builder) Version() byte { return b.version }

// Demoted is the number of attributes and bodies of this batch (since
// Reset) that were given a kind other than KindString but stored as strings:
// in version 1 every one, in version 2 those whose value was not valid for
// its kind. The bytes are kept either way; an input counts these so that no
// type is lost silently.
func (b *Builder) Demoted() int { return b.demoted }

// Bytes finishes the batch, with base offset 0, and returns it. The slice is
// the builder's buffer: valid until the next Reset.
func (b *Builder) Bytes() []byte {
	buf := b.buf
	le := binary.LittleEndian
	le.PutUint64(buf[offBaseOffset:], 0)
	le.PutUint32(buf[offLength:], uint32(len(buf)-LogOverhead))
	buf[offMagic] = b.version
	le.PutUint16(buf[offFlags:], uint16(CodecNone))
	le.PutUint32(buf[offCount:], b.count)
	le.PutUint64(buf[offFirstTS:], uint64(b.firstTS))
	le.PutUint64(buf[offMaxTS:], uint64(b.maxTS))
	le.PutUint64(buf[offProducer:], b.producer)
	le.PutUint64(buf[offSequence:], b.sequence)
	if b.version == MagicV2 {
		le.PutUint64(buf[offObserved:], uint64(b.observed))
	}
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
