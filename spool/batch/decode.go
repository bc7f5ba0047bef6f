package batch

import (
	"encoding/binary"
	"fmt"
)

// Batch is a decoded, validated batch. Its slices point into the bytes it was
// decoded from.
type Batch struct {
	Header
	sourceAttrs []byte // uvarint count, then pairs
	records     []byte
}

// Decode validates the batch at the start of b — header, CRC and the whole
// record section — and returns it with its size. Hostile bytes give an error,
// never a panic or an allocation.
func Decode(b []byte) (Batch, int, error) {
	h, size, err := Check(b)
	if err != nil {
		return Batch{}, 0, err
	}
	body := b[HeaderSize:size]
	attrEnd, err := skipAttrs(body, 0)
	if err != nil {
		return Batch{}, 0, fmt.Errorf("source attributes: %w", err)
	}
	bt := Batch{Header: h, sourceAttrs: body[:attrEnd], records: body[attrEnd:]}
	it := bt.Records()
	var r Record
	n := uint32(0)
	for it.Next(&r) {
		n++
	}
	if it.Err() != nil {
		return Batch{}, 0, it.Err()
	}
	if n != h.Count {
		return Batch{}, 0, fmt.Errorf("%w: count %d, records %d", ErrMalformed, h.Count, n)
	}
	return bt, size, nil
}

// SourceAttrs iterates over the attributes shared by all records.
func (bt *Batch) SourceAttrs() AttrIter { return newAttrIter(bt.sourceAttrs) }

// Records iterates over the records.
func (bt *Batch) Records() RecordIter {
	return RecordIter{b: bt.records, offset: bt.BaseOffset, firstTS: bt.FirstTimestamp}
}

// Record is one log record. Body and attributes point into the batch.
type Record struct {
	Offset    uint64
	Timestamp int64
	Body      []byte
	attrs     []byte
}

// Attrs iterates over the record's own attributes.
func (r *Record) Attrs() AttrIter { return newAttrIter(r.attrs) }

// RecordIter walks the records of a batch.
type RecordIter struct {
	b       []byte
	pos     int
	offset  uint64
	firstTS int64
	err     error
}

// Next fills r with the next record and reports whether there was one.
func (it *RecordIter) Next(r *Record) bool {
	if it.err != nil || it.pos >= len(it.b) {
		return false
	}
	n, k := binary.Uvarint(it.b[it.pos:])
	if k <= 0 || n > uint64(len(it.b)-it.pos-k) {
		it.err = fmt.Errorf("%w: record length at %d", ErrMalformed, it.pos)
		return false
	}
	rec := it.b[it.pos+k : it.pos+k+int(n)]
	delta, k2 := binary.Varint(rec)
	if k2 <= 0 {
		it.err = fmt.Errorf("%w: timestamp at %d", ErrMalformed, it.pos)
		return false
	}
	attrEnd, err := skipAttrs(rec, k2)
	if err != nil {
		it.err = fmt.Errorf("record at %d: %w", it.pos, err)
		return false
	}
	r.Offset = it.offset
	r.Timestamp = it.firstTS + delta
	r.attrs = rec[k2:attrEnd]
	r.Body = rec[attrEnd:]
	it.offset++
	it.pos += k + int(n)
	return true
}

// Err is the error that stopped the iteration, if any.
func (it *RecordIter) Err() error { return it.err }

// AttrIter walks key/value attributes.
type AttrIter struct {
	b    []byte
	left uint64
}

func newAttrIter(b []byte) AttrIter {
	n, k := binary.Uvarint(b)
	if k <= 0 {
		return AttrIter{}
	}
	return AttrIter{b: b[k:], left: n}
}

// Len is the number of attributes not yet returned.
func (it *AttrIter) Len() int { return int(it.left) }

// Next returns the next attribute. The section was validated by Decode.
func (it *AttrIter) Next() (key, value []byte, ok bool) {
	if it.left == 0 {
		return nil, nil, false
	}
	var k int
	if key, k = readBytes(it.b); k < 0 {
		it.left = 0
		return nil, nil, false
	}
	it.b = it.b[k:]
	if value, k = readBytes(it.b); k < 0 {
		it.left = 0
		return nil, nil, false
	}
	it.b = it.b[k:]
	it.left--
	return key, value, true
}

// skipAttrs checks the attribute section that starts at b[pos] and returns
// where it ends.
func skipAttrs(b []byte, pos int) (int, error) {
	n, k := binary.Uvarint(b[pos:])
	if k <= 0 || n > uint64(len(b)-pos) {
		return 0, fmt.Errorf("%w: attribute count", ErrMalformed)
	}
	pos += k
	for i := uint64(0); i < 2*n; i++ {
		_, k := readBytes(b[pos:])
		if k < 0 {
			return 0, fmt.Errorf("%w: attribute %d", ErrMalformed, i/2)
		}
		pos += k
	}
	return pos, nil
}

// readBytes reads a uvarint length and that many bytes; k < 0 if b is short.
func readBytes(b []byte) (p []byte, k int) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)-k) {
		return nil, -1
	}
	return b[k : k+int(n)], k + int(n)
}
