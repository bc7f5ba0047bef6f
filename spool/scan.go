package spool

import (
	"errors"
	"fmt"

	"github.com/capstan-agent/capstan/spool/batch"
)

// scanner walks the batches of one segment in order from a position where a
// batch starting at a known offset lies. Every batch must fit below size and
// start at the offset its predecessor ended at (base_offset is outside the
// CRC: continuity is what vouches for it); in crcChecked mode each is also
// read whole and CRC-checked. On damage it either stops (stopAtDamage) or
// looks for the next batch that passes its CRC and continues there,
// describing what it jumped over (resync).
//
// Recovery, index rebuilds, Verify, Scan and the readers' header walks all
// use it: there is one definition of "the next good batch".
type scanner struct {
	s      *segment
	size   int64
	crc    bool
	resync bool

	pos  int64        // the current batch, or where the scan stopped
	want uint64       // offset the batch at pos starts with (or should)
	h    batch.Header // the current batch
	skip *skipped     // damage jumped over to reach the current batch
	err  error        // why the scan stopped before size, if it did
	read int64        // bytes read, for recovery's accounting

	have bool // h is a batch at pos that next steps past
	hdr  [batch.HeaderSize]byte
	buf  []byte // the current batch, in crcChecked mode
}

// skipped is damage a resyncing scan jumped over: bytes [pos, pos+bytes)
// and the offsets [from, resume).
type skipped struct {
	pos, bytes   int64
	from, resume uint64
	cause        error
}

const (
	headersOnly = false // scanner mode: check headers and continuity
	crcChecked  = true  // scanner mode: check whole batches and their CRC

	stopAtDamage = false
	resync       = true
)

func newScanner(s *segment, pos int64, want uint64, size int64, crc, resync bool) *scanner {
	return &scanner{s: s, size: size, crc: crc, resync: resync, pos: pos, want: want}
}

// next moves to the next batch and reports whether there is one. At false,
// pos and want say where the scan stopped and err why (nil at size).
func (sc *scanner) next() bool {
	if sc.have {
		sc.pos += sc.h.Size()
		sc.want = sc.h.NextOffset()
		sc.have = false
	}
	sc.skip = nil
	if sc.pos >= sc.size {
		return false
	}
	h, err := sc.check(sc.pos)
	if err != nil {
		q, hq, ok := sc.find(sc.pos + 1)
		if !ok {
			sc.err = err
			return false
		}
		sc.skip = &skipped{pos: sc.pos, bytes: q - sc.pos, from: sc.want, resume: hq.BaseOffset, cause: err}
		sc.pos, h = q, hq
	}
	sc.h, sc.have = h, true
	return true
}

// batch is the current batch's bytes (crcChecked mode), valid until next.
func (sc *scanner) batch() []byte { return sc.buf[:sc.h.Size()] }

// check validates the batch at pos, which must start at sc.want.
func (sc *scanner) check(pos int64) (batch.Header, error) {
	if sc.crc {
		h, n, err := sc.s.checkBatch(pos, sc.size, sc.want, true, &sc.buf)
		sc.read += n
		return h, err
	}
	h, err := sc.s.readHeader(pos, &sc.hdr)
	sc.read += batch.HeaderSize
	switch {
	case err != nil:
		return h, err
	case pos+h.Size() > sc.size:
		return h, errors.New("batch runs past the end of the segment")
	case h.BaseOffset != sc.want:
		return h, fmt.Errorf("batch has base offset %d, want %d", h.BaseOffset, sc.want)
	}
	return h, nil
}

// find looks for the first good batch at or after from when resyncing.
func (sc *scanner) find(from int64) (int64, batch.Header, bool) {
	if !sc.resync {
		return 0, batch.Header{}, false
	}
	q, h, n, ok := sc.s.resync(from, sc.size, sc.want, &sc.buf)
	sc.read += n
	return q, h, ok
}

// checkBatch reads and validates the whole batch at pos, which must end by
// size. With exact its base must be want; otherwise at least want and not
// absurdly far past it. It returns the bytes it read.
func (s *segment) checkBatch(pos, size int64, want uint64, exact bool, scratch *[]byte) (batch.Header, int64, error) {
	var hdr [batch.HeaderSize]byte
	if size-pos < batch.HeaderSize {
		return batch.Header{}, 0, batch.ErrShort
	}
	h, err := s.readHeader(pos, &hdr)
	switch {
	case err != nil:
		return h, batch.HeaderSize, err
	case pos+h.Size() > size:
		return h, batch.HeaderSize, batch.ErrShort
	case h.BaseOffset < want || (exact && h.BaseOffset != want) || h.BaseOffset-want > 1<<32:
		return h, batch.HeaderSize, fmt.Errorf("base offset %d, want %d", h.BaseOffset, want)
	}
	if int64(cap(*scratch)) < h.Size() {
		*scratch = make([]byte, h.Size())
	}
	b := (*scratch)[:h.Size()]
	if _, err := s.f.ReadAt(b, pos); err != nil {
		return h, batch.HeaderSize, err
	}
	_, _, err = batch.Check(b)
	return h, batch.HeaderSize + h.Size(), err
}

// resync finds the first good batch at or after from whose base is at least
// want. It is only called on damage, so it may look at every byte up to size.
// It returns the bytes it read.
func (s *segment) resync(from, size int64, want uint64, scratch *[]byte) (int64, batch.Header, int64, bool) {
	var chunk [64 << 10]byte
	var read int64
	for base := from; base+batch.HeaderSize <= size; base += int64(len(chunk)) - batch.HeaderSize {
		n, err := s.f.ReadAt(chunk[:min(int64(len(chunk)), size-base)], base)
		read += int64(n)
		if err != nil && n < batch.HeaderSize {
			return 0, batch.Header{}, read, false
		}
		for i := 0; i+batch.HeaderSize <= n; i++ {
			if chunk[i+batch.LogOverhead] != batch.Magic {
				continue
			}
			if h, err := batch.ParseHeader(chunk[i:n]); err != nil || h.BaseOffset < want {
				continue
			}
			h, m, err := s.checkBatch(base+int64(i), size, want, false, scratch)
			read += m
			if err == nil {
				return base + int64(i), h, read, true
			}
		}
		if n < len(chunk) {
			break
		}
	}
	return 0, batch.Header{}, read, false
}

// crcOK reports whether the whole batch at pos is intact. Readers call it only
// when something near pos looks damaged.
func (s *segment) crcOK(pos int64) bool {
	var scratch []byte
	_, _, err := s.checkBatch(pos, s.size.Load(), s.base, false, &scratch)
	return err == nil
}
