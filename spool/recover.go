package spool

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/capstan-agent/capstan/spool/batch"
)

// openPartition opens the segments of a partition directory and recovers its
// tail. Sealed segments are only stat'ed; the active one is read from its last
// index entry on, so opening does not take longer as the spool grows.
func openPartition(st *Stream, id int, dir string) (*Partition, error) {
	p := &Partition{
		stream: st, id: id, dir: dir, opts: &st.spool.opts,
		log:    st.spool.log.With(zap.String("stream", st.name), zap.Int("partition", id)),
		notify: make(chan struct{}), space: make(chan struct{}),
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("open partition %s: %w", dir, err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("open partition %s: %w", dir, err)
	}
	var bases []uint64
	for _, e := range entries {
		if base, ok := parseSegmentName(e.Name(), logSuffix); ok {
			bases = append(bases, base)
		} else if strings.Contains(e.Name(), ".tmp") {
			os.Remove(filepath.Join(dir, e.Name())) // a write that never got renamed
		}
	}
	slices.Sort(bases)
	if len(bases) == 0 {
		s, err := createSegment(dir, 0)
		if err != nil {
			return nil, fmt.Errorf("open partition %s: %w", dir, err)
		}
		p.segs = []*segment{s}
		return p, nil
	}
	for i, base := range bases {
		s, err := openSegment(dir, base, i == len(bases)-1)
		if err != nil {
			p.closeSegments()
			return nil, err
		}
		if i < len(bases)-1 {
			s.next.Store(bases[i+1])
			if s.size.Load() == 0 { // left by a crash during a roll
				s.f.Close()
				removeSegmentFiles(s)
				continue
			}
		}
		p.segs = append(p.segs, s)
		p.bytes.Add(s.size.Load())
	}
	p.removeOrphans(entries)
	if err := p.recoverActive(); err != nil {
		p.closeSegments()
		return nil, err
	}
	return p, nil
}

func openSegment(dir string, base uint64, active bool) (*segment, error) {
	s := &segment{base: base, path: segmentName(dir, base, logSuffix), created: time.Now()}
	flag := os.O_RDONLY
	if active {
		flag = os.O_RDWR
	}
	f, err := os.OpenFile(s.path, flag, 0)
	if err != nil {
		return nil, fmt.Errorf("open segment %s: %w", s.path, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open segment %s: %w", s.path, err)
	}
	s.f = f
	s.size.Store(fi.Size())
	s.modTime.Store(fi.ModTime().UnixNano())
	return s, nil
}

// removeOrphans deletes index and snapshot files whose segment is gone.
func (p *Partition) removeOrphans(entries []os.DirEntry) {
	have := make(map[uint64]bool, len(p.segs))
	for _, s := range p.segs {
		have[s.base] = true
	}
	for _, e := range entries {
		for _, suf := range []string{indexSuffix, producerSuffix} {
			if base, ok := parseSegmentName(e.Name(), suf); ok && !have[base] {
				os.Remove(filepath.Join(p.dir, e.Name()))
			}
		}
	}
}

// recoverActive reads the active segment from its last good index entry on,
// checking each batch's length and CRC. At the first damaged batch it looks
// for a good batch further on; if there is one, the damage is a hole that
// readers skip, otherwise it is a torn tail, cut off and reported.
func (p *Partition) recoverActive() error {
	s := p.segs[len(p.segs)-1]
	size := s.size.Load()
	var hdr [batch.HeaderSize]byte

	idxBytes, _ := os.ReadFile(s.indexPath())
	p.stats.recoveryRead.Add(int64(len(idxBytes)))
	idx := decodeIndex(idxBytes, size)
	for len(idx) > 0 { // the last entries may point at a torn tail
		e := idx[len(idx)-1]
		h, err := s.readHeader(int64(e.pos), &hdr)
		p.stats.recoveryRead.Add(batch.HeaderSize)
		if err == nil && h.BaseOffset == s.base+uint64(e.rel) && int64(e.pos)+h.Size() <= size {
			break
		}
		idx = idx[:len(idx)-1]
	}
	start, next := int64(0), s.base
	if len(idx) > 0 {
		start, next = int64(idx[len(idx)-1].pos), s.base+uint64(idx[len(idx)-1].rel)
	}
	if err := p.loadProducers(start); err != nil {
		return err
	}

	sc := newScanner(s, start, next, size, crcChecked, resync)
	newIdx := p.scanTail(sc, idx)
	p.stats.recoveryRead.Add(sc.read)
	changed := len(idx) != len(newIdx) || len(idxBytes) != len(idx)*indexEntrySize
	s.idx, s.idxOK = newIdx, true
	if len(s.idx) > 0 {
		s.idxPos = int64(s.idx[len(s.idx)-1].pos)
	}
	if sc.pos < size {
		cut := size - sc.pos
		if err := s.f.Truncate(sc.pos); err != nil {
			return fmt.Errorf("truncate segment %s: %w", s.path, err)
		}
		p.bytes.Add(-cut)
		p.stats.recoveryCutBytes.Add(cut)
		p.log.Warn("torn or corrupt tail cut",
			zap.String("segment", s.path), zap.Int64("pos", sc.pos), zap.Int64("bytes_cut", cut),
			zap.Uint64("first_offset_lost", sc.want), zap.Error(sc.err))
	}
	s.size.Store(sc.pos)
	s.next.Store(sc.want)
	if changed {
		var b []byte
		for _, e := range s.idx {
			b = appendIndexEntry(b, e)
		}
		if err := writeFileAtomic(s.indexPath(), b); err != nil {
			return err
		}
	}
	f, err := os.OpenFile(s.indexPath(), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open index %s: %w", s.indexPath(), err)
	}
	s.idxFile = f
	return nil
}

// scanTail walks the active segment's tail, checking CRCs, and returns idx
// with entries for what it passed. A hole is logged and gets an entry, so
// that readers resynchronise there; where it stops, the tail is torn.
func (p *Partition) scanTail(sc *scanner, idx []indexEntry) []indexEntry {
	lastIdx := sc.pos
	for sc.next() {
		if k := sc.skip; k != nil {
			p.log.Warn("corrupt batch skipped in the middle of a segment",
				zap.String("segment", sc.s.path), zap.Int64("pos", k.pos), zap.Int64("bytes", k.bytes),
				zap.Uint64("first_offset_lost", k.from), zap.Uint64("resume_offset", k.resume), zap.Error(k.cause))
		}
		if sc.skip != nil || (sc.pos > 0 && sc.pos-lastIdx >= p.opts.IndexInterval) {
			idx = append(idx, indexEntry{rel: uint32(sc.h.BaseOffset - sc.s.base), pos: uint32(sc.pos)})
			lastIdx = sc.pos
		}
		p.producer.record(sc.h.Producer, sc.h.Sequence, sc.h.NextOffset())
	}
	return idx
}

// loadProducers rebuilds the producer table: the snapshot written when the
// active segment was created, then the headers of the active segment up to
// end (the CRC scan of the tail records the rest). Without a usable snapshot
// it walks back to an older one, or to the start, and says so.
func (p *Partition) loadProducers(end int64) error {
	i := len(p.segs) - 1
	for ; i >= 0; i-- {
		m, err := loadSnapshot(segmentName(p.dir, p.segs[i].base, producerSuffix), p.segs[i].base, &p.stats.recoveryRead)
		if err == nil {
			p.producer.m = m
			break
		}
		switch {
		case i == len(p.segs)-1 && i > 0 && errors.Is(err, os.ErrNotExist):
			// Written once the segment before is durable: a crash soon after
			// a roll leaves it out.
			p.log.Info("producer snapshot of the active segment not written yet; rebuilding from the segment before",
				zap.String("segment", p.segs[i].path))
		case i > 0 || !errors.Is(err, os.ErrNotExist) || p.segs[0].base != 0:
			p.log.Warn("producer snapshot unusable; rebuilding from older segments",
				zap.String("segment", p.segs[i].path), zap.Error(err))
		}
	}
	if i < 0 {
		i = 0
	}
	for ; i < len(p.segs); i++ {
		s := p.segs[i]
		limit := s.size.Load()
		if i == len(p.segs)-1 {
			limit = end
		}
		// Damage costs CRC reads only where it is; the reader reports it.
		sc := newScanner(s, 0, s.base, limit, headersOnly, resync)
		for sc.next() {
			p.producer.record(sc.h.Producer, sc.h.Sequence, sc.h.NextOffset())
		}
		p.stats.recoveryRead.Add(sc.read)
	}
	return nil
}

func (p *Partition) closeSegments() {
	for _, s := range p.segs {
		s.f.Close()
		if s.idxFile != nil {
			s.idxFile.Close()
		}
	}
}

func removeSegmentFiles(s *segment) {
	os.Remove(s.path)
	os.Remove(s.indexPath())
	os.Remove(strings.TrimSuffix(s.path, logSuffix) + producerSuffix)
}
