package batch

import (
	"encoding/binary"
	"fmt"
)

// Batch is a decoded, validated batch of either version. Its slices point
// into the bytes it was decoded from.
type Batch struct {
	Header
	// ObservedTime is when the input built the batch (unix nanoseconds);
	// 0 in version 1, which does not carry it.
	ObservedTime int64
	sourceAttrs  []byte // uvarint count, then attributes
	records      []byte
	typed        bool // version 2: attributes and bodies carry a kind
}

// Decode validates the batch at the start of b — header, CRC and the whole
// record section, and in version 2 every value against its kind — and
// returns it with its size. Hostile bytes give an error, never a panic or an
// allocation.
func Decode(b []byte) (Batch, int, error) {
	h, size, err := Check(b)
	if err != nil {
		return Batch{}, 0, err
	}
	bt := Batch{Header: h, typed: h.Magic == MagicV2}
	body := b[HeaderSize:size]
	if bt.typed { // ParseHeader checked the length covers observed_time
		bt.ObservedTime = int64(binary.LittleEndian.Uint64(body))
		body = body[headerSizeV2-HeaderSize:]
	}
	attrEnd, err := skipAttrs(body, 0, bt.typed, true)
	if err != nil {
		return Batch{}, 0, fmt.Errorf("source attributes: %w", err)
	}
	bt.sourceAttrs, bt.records = body[:attrEnd], body[attrEnd:]
	it := bt.Records()
	it.validate = true
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
func (bt *Batch) SourceAttrs() AttrIter { return newAttrIter(bt.sourceAttrs, bt.typed) }

// Records iterates over the records.
func (bt *Batch) Records() RecordIter {
	return RecordIter{b: bt.records, offset: bt.BaseOffset, firstTS: bt.FirstTimestamp,
		observed: bt.ObservedTime, typed: bt.typed}
}

// Record is one log record: what every output encoder reads. Body and
// attributes point into the batch.
type Record struct {
	Offset    uint64
	Timestamp int64 // unix nanoseconds: the record's time
	// ObservedTime is the batch's (Batch.ObservedTime): when the input read
	// the record; 0 in version 1.
	ObservedTime int64
	// BodyKind is the kind of Body; always KindString in version 1.
	BodyKind Kind
	Body     []byte
	attrs    []byte
	typed    bool
}

// Attrs iterates over the record's own attributes.
func (r *Record) Attrs() AttrIter { return newAttrIter(r.attrs, r.typed) }

// BodyValue is the body as a keyless Attr, for AppendJSONValue.
func (r *Record) BodyValue() Attr { return Attr{Value: r.Body, Kind: r.BodyKind} }

// RecordIter walks the records of a batch.
type RecordIter struct {
	b        []byte
	pos      int
	offset   uint64
	firstTS  int64
	observed int64
	typed    bool
	validate bool // check every value against its kind (Decode does, once)
	err      error
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
	delta, pos := binary.Varint(rec)
	if pos <= 0 {
		it.err = fmt.Errorf("%w: timestamp at %d", ErrMalformed, it.pos)
		return false
	}
	bodyKind := KindString
	if it.typed {
		if pos >= len(rec) || Kind(rec[pos]) > maxKind {
			it.err = fmt.Errorf("%w: body kind at %d", ErrMalformed, it.pos)
			return false
		}
		bodyKind = Kind(rec[pos])
		pos++
	}
	attrEnd, err := skipAttrs(rec, pos, it.typed, it.validate)
	if err != nil {
		it.err = fmt.Errorf("record at %d: %w", it.pos, err)
		return false
	}
	if it.validate && !ValidValue(bodyKind, rec[attrEnd:]) {
		it.err = fmt.Errorf("%w: record at %d: body is not a valid %s", ErrMalformed, it.pos, bodyKind)
		return false
	}
	r.Offset = it.offset
	r.Timestamp = it.firstTS + delta
	r.ObservedTime = it.observed
	r.BodyKind = bodyKind
	r.attrs = rec[pos:attrEnd]
	r.Body = rec[attrEnd:]
	r.typed = it.typed
	it.offset++
	it.pos += k + int(n)
	return true
}

// Err is the error that stopped the iteration, if any.
func (it *RecordIter) Err() error { return it.err }

// AttrIter walks the attributes of a source or a record.
type AttrIter struct {
	b     []byte
	left  uint64
	typed bool
}

func newAttrIter(b []byte, typed bool) AttrIter {
	n, k := binary.Uvarint(b)
	if k <= 0 {
		return AttrIter{}
	}
	return AttrIter{b: b[k:], left: n, typed: typed}
}

// Len is the number of attributes not yet returned.
func (it *AttrIter) Len() int { return int(it.left) }

// NextAttr returns the next attribute with its kind (KindString for every
// attribute of version 1). The section was validated by Decode.
func (it *AttrIter) NextAttr() (Attr, bool) {
	if it.left == 0 {
		return Attr{}, false
	}
	var a Attr
	var k int
	if a.Key, k = readBytes(it.b); k < 0 {
		it.left = 0
		return Attr{}, false
	}
	it.b = it.b[k:]
	if it.typed {
		if len(it.b) == 0 {
			it.left = 0
			return Attr{}, false
		}
		a.Kind = Kind(it.b[0])
		it.b = it.b[1:]
	}
	if a.Value, k = readBytes(it.b); k < 0 {
		it.left = 0
		return Attr{}, false
	}
	it.b = it.b[k:]
	it.left--
	return a, true
}

// Next returns the next attribute's key and value text, whatever its kind;
// NextAttr gives the kind too.
func (it *AttrIter) Next() (key, value []byte, ok bool) {
	a, ok := it.NextAttr()
	return a.Key, a.Value, ok
}

// skipAttrs checks the attribute section that starts at b[pos] and returns
// where it ends: the structure always, each value against its kind if
// typed and validate.
func skipAttrs(b []byte, pos int, typed, validate bool) (int, error) {
	n, k := binary.Uvarint(b[pos:])
	if k <= 0 || n > uint64(len(b)-pos) {
		return 0, fmt.Errorf("%w: attribute count", ErrMalformed)
	}
	pos += k
	for i := uint64(0); i < n; i++ {
		_, k := readBytes(b[pos:])
		if k < 0 {
			return 0, fmt.Errorf("%w: attribute %d: key length", ErrMalformed, i)
		}
		pos += k
		kind := KindString
		if typed {
			if pos >= len(b) || Kind(b[pos]) > maxKind {
				return 0, fmt.Errorf("%w: attribute %d: kind", ErrMalformed, i)
			}
			kind = Kind(b[pos])
			pos++
		}
		v, k := readBytes(b[pos:])
		if k < 0 {
			return 0, fmt.Errorf("%w: attribute %d: value length", ErrMalformed, i)
		}
		if validate && !ValidValue(kind, v) {
			return 0, fmt.Errorf("%w: attribute %d: value is not a valid %s", ErrMalformed, i, kind)
		}
		pos += k
	}
	return pos, nil
}

// readBytes reads a uvarint length and that many bytes; k < 0 if b is short.
func readBytes(b []byte) (p []byte, k int) {
	if len(b) > 0 && b[0] < 0x80 { // most keys and values are shorter than 128 bytes
		n := int(b[0])
		if n > len(b)-1 {
			return nil, -1
		}
		return b[1 : 1+n], 1 + n
	}
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)-k) {
		return nil, -1
	}
	return b[k : k+int(n)], k + int(n)
}
