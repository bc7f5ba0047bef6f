package spool

import (
	"errors"
	"fmt"
	"os"
	"sort"

	"github.com/capstan-agent/capstan/spool/batch"
)

// Range is a run of whole batches lying contiguously in one segment file: what
// a shipper hands to sendfile, or reads and decodes. File belongs to the
// spool: do not close it, and use positioned I/O (ReadAt, sendfile with an
// offset), never its seek position.
type Range struct {
	File    *os.File
	Pos     int64  // byte position in File
	Len     int64  // bytes
	First   uint64 // offset of the first record of the first batch
	Next    uint64 // offset after the last record of the last batch
	Batches int
}

// Reader walks a partition's batches from an offset on, handing out ranges.
// It keeps its place, so sequential reading costs one header read per batch
// and no index lookup. A Reader is not safe for concurrent use; any number of
// readers may read a partition while it is appended to.
type Reader struct {
	p    *Partition
	seg  *segment
	pos  int64
	next uint64
	hdr  [batch.HeaderSize]byte
}

// NewReader returns a reader positioned at offset from. If from lies inside a
// batch, the first range starts with that whole batch: ranges are always whole
// batches, and Range.First says where they start.
func (p *Partition) NewReader(from uint64) *Reader {
	return &Reader{p: p, next: from}
}

// Offset is where the reader continues.
func (r *Reader) Offset() uint64 { return r.next }

// Next returns the next range of at most maxBytes (but at least one whole
// batch). It returns ErrNoData at the end of the partition; a *GapError when
// it had to skip offsets that are gone (the reader has moved past them, call
// Next again); a *CorruptionError when it skipped damaged bytes (likewise); a
// *BeyondEndError when it was asked to start past the end of the partition
// (it has moved to the end: call Next again).
func (r *Reader) Next(maxBytes int64) (Range, error) {
	if r.seg == nil || r.seg.deleted.Load() {
		if err := r.locate(); err != nil {
			return Range{}, err
		}
	}
	for {
		size := r.seg.size.Load()
		if r.pos < size {
			return r.collect(size, maxBytes)
		}
		segs := r.p.segments()
		i := sort.Search(len(segs), func(i int) bool { return segs[i].base > r.seg.base })
		if i == len(segs) {
			return Range{}, ErrNoData
		}
		// The segment was sealed: its size is final and the next one starts
		// at its next offset.
		if r.pos < r.seg.size.Load() {
			continue
		}
		if segs[i].base > r.next {
			// Deletion only takes segments from the front, so a hole
			// between two segments is a tail lost to damage.
			gap := &GapError{From: r.next, To: segs[i].base, Reason: GapDamaged}
			r.seg, r.pos, r.next = segs[i], 0, segs[i].base
			return Range{}, gap
		}
		// The segment's name is the authority on its base: a damaged count
		// in the batch before must not shift the offsets of this one.
		r.seg, r.pos, r.next = segs[i], 0, segs[i].base
	}
}

// locate finds the segment and byte position of r.next.
func (r *Reader) locate() error {
	segs := r.p.segments()
	if r.next < segs[0].base {
		gap := &GapError{From: r.next, To: segs[0].base, Reason: GapRetention}
		if r.next < r.p.droppedBelow.Load() {
			gap.Reason = GapDropOldest
		}
		r.next = segs[0].base
		r.seg, r.pos = segs[0], 0
		return gap
	}
	if last := segs[len(segs)-1]; r.next > last.next.Load() {
		// Size and next offset are read together under the append lock,
		// so that the reader lands on a batch boundary.
		r.p.mu.Lock()
		size, end := last.size.Load(), last.next.Load()
		r.p.mu.Unlock()
		if r.next > end {
			// Nothing lies between end and r.next, so nothing is skipped;
			// records appended from now on get offsets from end on and
			// must all be read.
			err := &BeyondEndError{Key: r.p.key(), Offset: r.next, Next: end}
			r.seg, r.pos, r.next = last, size, end
			return err
		}
	}
	i := sort.Search(len(segs), func(i int) bool { return segs[i].base > r.next }) - 1
	s := segs[i]
	if err := s.loadIndex(r.p.opts.IndexInterval); err != nil {
		return err
	}
	pos, want := s.lookup(r.next)
	if _, err := r.headerIn(s, pos, want, s.size.Load()); pos > 0 && err != nil {
		pos, want = 0, s.base // a damaged index entry: walk from the start
	}
	r.seg = s
	// Walk headers to the batch that holds r.next.
	sc := newScanner(s, pos, want, s.size.Load(), headersOnly, stopAtDamage)
	prevPos, prevWant := int64(-1), want
	for sc.next() {
		if sc.h.NextOffset() > r.next {
			r.pos, r.next = sc.pos, sc.h.BaseOffset // ranges start at whole batches
			return nil
		}
		prevPos, prevWant = sc.pos, sc.want
	}
	r.pos = sc.pos
	if sc.err == nil {
		return nil
	}
	want = sc.want
	if prevPos >= 0 && !s.crcOK(prevPos) {
		// The batch walked past is the damaged one (its length or count
		// field lied): the loss starts there.
		r.pos, want = prevPos, prevWant
	}
	r.next = want
	return r.corrupt(sc.err)
}

// collect gathers whole batches from r.pos up to limit into one range. Every
// header is checked before the batch before it is handed out: a batch whose
// length field was damaged shows itself by a bad header after it, and is then
// checked by CRC before anything is decided.
func (r *Reader) collect(limit, maxBytes int64) (Range, error) {
	rg := Range{File: r.seg.f, Pos: r.pos}
	pos, next := r.pos, r.next
	var lastPos int64
	var lastBase uint64
	for pos < limit {
		h, err := r.header(pos, next, limit)
		if err != nil {
			if rg.Batches == 0 {
				return Range{}, r.corrupt(err)
			}
			if !r.seg.crcOK(lastPos) {
				// The previous batch is the damaged one: leave it out, and
				// report it on the next call.
				rg.Batches--
				pos, next = lastPos, lastBase
				if rg.Batches == 0 {
					r.pos, r.next = pos, next
					return Range{}, r.corrupt(err)
				}
			}
			break
		}
		if rg.Batches > 0 && pos-r.pos+h.Size() > maxBytes {
			break
		}
		if rg.Batches == 0 {
			rg.First = h.BaseOffset
		}
		lastPos, lastBase = pos, next
		pos += h.Size()
		next = h.NextOffset()
		rg.Batches++
	}
	rg.Len = pos - r.pos
	rg.Next = next
	r.pos, r.next = pos, next
	return rg, nil
}

// header reads the header at pos and checks that it fits the segment and
// carries the expected base offset.
func (r *Reader) header(pos int64, want uint64, limit int64) (batch.Header, error) {
	return r.headerIn(r.seg, pos, want, limit)
}

func (r *Reader) headerIn(s *segment, pos int64, want uint64, limit int64) (batch.Header, error) {
	h, err := s.readHeader(pos, &r.hdr)
	switch {
	case err != nil:
		return h, err
	case pos+h.Size() > limit:
		return h, errors.New("batch runs past the end of the segment")
	case h.BaseOffset != want:
		return h, fmt.Errorf("batch has base offset %d, want %d", h.BaseOffset, want)
	}
	return h, nil
}

// corrupt skips past damage at r.pos: to the next index entry that points at
// a good header, or to the end of the segment, and reports what it skipped.
func (r *Reader) corrupt(cause error) error {
	e := &CorruptionError{Segment: r.seg.path, Pos: r.pos, Offset: r.next, Err: cause}
	if errors.Is(cause, os.ErrClosed) {
		// The segment was deleted under us (drop_oldest): start again.
		r.seg = nil
		return e
	}
	_ = r.seg.loadIndex(r.p.opts.IndexInterval)
	from := r.pos
	for {
		q, off := r.seg.nextIndexed(from)
		if q < 0 {
			break
		}
		if h, err := r.seg.readHeader(q, &r.hdr); err == nil && h.BaseOffset == off {
			e.Skipped = q - r.pos
			e.Resume = off
			r.pos, r.next = q, off
			return e
		}
		from = q
	}
	// Nothing to resynchronise on: skip the rest of the segment. Size and next
	// offset are read together under the append lock.
	r.p.mu.Lock()
	size, next := r.seg.size.Load(), r.seg.next.Load()
	r.p.mu.Unlock()
	e.Skipped = size - r.pos
	r.pos, r.next = size, next
	e.Resume = next
	return e
}

// BytesFrom is how many bytes of the partition hold offsets at or after off:
// the backlog of a consumer whose next offset is off. It costs an index
// lookup and a short header walk in one segment.
func (p *Partition) BytesFrom(off uint64) int64 {
	segs := p.segments()
	var n int64
	for i, s := range segs {
		size := s.size.Load()
		switch {
		case off <= s.base:
			n += size
		case i == len(segs)-1 || off < segs[i+1].base:
			if s.loadIndex(p.opts.IndexInterval) != nil {
				continue
			}
			n += size - s.position(off, size)
		}
	}
	return n
}

// position is the byte position of the batch that holds off, found from the
// loaded index by walking headers; at a damaged header it stops there.
func (s *segment) position(off uint64, size int64) int64 {
	pos, next := s.lookup(off)
	pos, _ = s.walk(pos, next, off, size)
	return pos
}

// walk follows batch headers from pos, where a batch starting at offset next
// lies, for as long as each header continues where the one before ended and
// its batch ends at or before stop. It returns where it stopped: the position
// and offset of the first batch it did not pass.
func (s *segment) walk(pos int64, next, stop uint64, size int64) (int64, uint64) {
	sc := newScanner(s, pos, next, size, headersOnly, stopAtDamage)
	for sc.next() {
		if sc.h.NextOffset() > stop {
			break
		}
	}
	return sc.pos, sc.want
}
