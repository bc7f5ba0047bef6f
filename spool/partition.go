package spool

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/capstan-agent/capstan/spool/batch"
)

// Partition is an ordered log of batches: a list of segments, the last one
// active. Appends to one partition are serialised by its own lock, so
// partitions are written in parallel; readers take no lock on the append path.
type Partition struct {
	stream *Stream
	id     int
	dir    string
	opts   *Options
	log    *zap.Logger

	mu      sync.Mutex // serialises appends, rolls and deletions
	segMu   sync.RWMutex
	segs    []*segment // sorted by base; the last is active
	idxBuf  []byte
	dirty   atomic.Bool // unsynced appends in the active segment
	bytes   atomic.Int64
	pending atomic.Int64 // size of an append waiting for space
	// droppedBelow is the offset up to which drop_oldest deleted unshipped
	// segments in this run: it tells a reader's gap why it happened.
	droppedBelow atomic.Uint64
	producer     producerTable

	notifyMu sync.Mutex
	notify   chan struct{} // closed and replaced on every append
	space    chan struct{} // closed and replaced when retention frees space

	stats partitionCounters
	block blockEpisodes
}

type partitionCounters struct {
	appendedBatches  atomic.Uint64
	appendedRecords  atomic.Uint64
	appendedBytes    atomic.Uint64
	duplicates       atomic.Uint64
	droppedSegments  atomic.Uint64
	droppedRecords   atomic.Uint64
	blocked          atomic.Int64 // appends waiting for space now
	recoveryRead     atomic.Int64
	recoveryCutBytes atomic.Int64
	fsync            fsyncCounters
}

// ID is the partition's number within its stream.
func (p *Partition) ID() int { return p.id }

// Stream is the stream the partition belongs to.
func (p *Partition) Stream() *Stream { return p.stream }

func (p *Partition) key() Key { return Key{p.stream.name, p.id} }

// NextOffset is the offset the next appended record will get.
func (p *Partition) NextOffset() uint64 {
	p.segMu.RLock()
	defer p.segMu.RUnlock()
	return p.segs[len(p.segs)-1].next.Load()
}

// OldestOffset is the first offset still in the spool.
func (p *Partition) OldestOffset() uint64 {
	p.segMu.RLock()
	defer p.segMu.RUnlock()
	return p.segs[0].base
}

// Sequence is the highest sequence stored for a producer, and whether the
// partition knows the producer at all (see docs/architecture.md, dedup).
func (p *Partition) Sequence(producer uint64) (uint64, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	e, ok := p.producer.m[producer]
	return e.seq, ok
}

// AppendResult says where appended batches landed.
type AppendResult struct {
	Base       uint64 // offset of the first record appended
	Next       uint64 // offset after the last record appended
	Batches    int    // batches appended
	Duplicates int    // batches dropped because their (producer, sequence) was already stored
}

// Append writes one or more whole batches, laid end to end in b, with one
// write(2). It assigns base offsets by rewriting them in b, and drops (and
// counts) batches whose producer already stored their sequence, compacting b
// in place. Batches must be well formed (Append checks headers, not CRCs:
// callers that take bytes from the network check them with batch.Check).
//
// When the partition is full and the stream's policy is block, Append waits
// for space until ctx is done; nothing is lost either way.
func (p *Partition) Append(ctx context.Context, b []byte) (AppendResult, error) {
	var res AppendResult
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stream.spool.closed.Load() {
		return res, ErrClosed
	}
	b, err := p.dedup(b, &res)
	if err != nil || len(b) == 0 {
		return res, err
	}
	if err := p.makeSpace(ctx, int64(len(b))); err != nil {
		return res, err
	}
	active := p.active()
	if active.size.Load() > 0 && (active.size.Load()+int64(len(b)) > p.stream.segmentBytes ||
		time.Since(active.created) > p.opts.SegmentAge) {
		if active, err = p.roll(); err != nil {
			return res, err
		}
	}
	pos, next := active.size.Load(), active.next.Load()
	res.Base = next
	for rest := b; len(rest) > 0; {
		h, _ := batch.ParseHeader(rest)
		batch.SetBaseOffset(rest, next)
		next += uint64(h.Count)
		rest = rest[h.Size():]
	}
	if _, err := active.f.WriteAt(b, pos); err != nil {
		// Leave no partial batch behind: the next append starts at pos again.
		_ = active.f.Truncate(pos)
		return AppendResult{}, fmt.Errorf("append to %s: %w", active.path, err)
	}
	p.indexAndTrack(active, b, pos)
	res.Next = next
	active.size.Store(pos + int64(len(b)))
	active.next.Store(next)
	active.modTime.Store(time.Now().UnixNano())
	p.bytes.Add(int64(len(b)))
	p.stats.appendedBatches.Add(uint64(res.Batches))
	p.stats.appendedRecords.Add(next - res.Base)
	p.stats.appendedBytes.Add(uint64(len(b)))
	switch p.opts.Fsync {
	case FsyncAlways:
		if err := p.fdatasync(active.f); err != nil {
			return res, fmt.Errorf("fsync %s: %w", active.path, err)
		}
	case FsyncInterval:
		p.dirty.Store(true)
	}
	p.wake(&p.notify)
	return res, nil
}

// dedup checks the headers of b and removes batches already stored.
func (p *Partition) dedup(b []byte, res *AppendResult) ([]byte, error) {
	w := 0
	for r := 0; r < len(b); {
		h, err := batch.ParseHeader(b[r:])
		if err != nil {
			return nil, fmt.Errorf("append batch at byte %d: %w", r, err)
		}
		size := int(h.Size())
		if r+size > len(b) {
			return nil, fmt.Errorf("append batch at byte %d: %w", r, batch.ErrShort)
		}
		if h.Count == 0 {
			return nil, fmt.Errorf("append batch at byte %d: %w", r, ErrEmptyBatch)
		}
		if p.producer.seen(h.Producer, h.Sequence) {
			res.Duplicates++
			p.stats.duplicates.Add(1)
		} else {
			if w != r {
				copy(b[w:], b[r:r+size])
			}
			w += size
			res.Batches++
		}
		r += size
	}
	return b[:w], nil
}

// indexAndTrack adds index entries and producer sequences for the batches just
// written at pos.
func (p *Partition) indexAndTrack(s *segment, b []byte, pos int64) {
	p.idxBuf = p.idxBuf[:0]
	s.idxMu.Lock()
	for off := 0; off < len(b); {
		h, _ := batch.ParseHeader(b[off:])
		at := pos + int64(off)
		if at > 0 && at-s.idxPos >= p.opts.IndexInterval {
			e := indexEntry{rel: uint32(h.BaseOffset - s.base), pos: uint32(at)}
			s.idx = append(s.idx, e)
			s.idxPos = at
			p.idxBuf = appendIndexEntry(p.idxBuf, e)
		}
		p.producer.record(h.Producer, h.Sequence, h.NextOffset())
		off += int(h.Size())
	}
	s.idxMu.Unlock()
	if len(p.idxBuf) > 0 {
		// The index is derived data: a failed write costs a rebuild, not data.
		if _, err := s.idxFile.Write(p.idxBuf); err != nil {
			p.log.Warn("index write failed", zap.String("segment", s.path), zap.Error(err))
		}
	}
}

func (p *Partition) active() *segment {
	p.segMu.RLock()
	defer p.segMu.RUnlock()
	return p.segs[len(p.segs)-1]
}

func (p *Partition) segments() []*segment {
	p.segMu.RLock()
	defer p.segMu.RUnlock()
	return p.segs
}

// roll seals the active segment and starts a new one at the next offset. The
// sealed segment is fsynced in the background, off the append path, and only
// then is the new segment's producer snapshot written: a snapshot must never
// be durable before the batches it vouches for (a power loss would otherwise
// leave dedup remembering sequences whose data is gone, and drop their
// re-sends).
func (p *Partition) roll() (*segment, error) {
	old := p.active()
	base := old.next.Load()
	snap := sealedSnapshot{path: segmentName(p.dir, base, producerSuffix), data: p.producer.snapshot(base, p.OldestOffset())}
	s, err := createSegment(p.dir, base)
	if err != nil {
		return nil, err
	}
	old.idxMu.Lock()
	old.idxOK = true
	idxFile := old.idxFile
	old.idxFile = nil
	old.idxMu.Unlock()
	p.segMu.Lock()
	p.segs = append(p.segs[:len(p.segs):len(p.segs)], s)
	p.segMu.Unlock()
	p.stream.spool.sealed(sealedSegment{p, old, idxFile, snap})
	return s, nil
}

func createSegment(dir string, base uint64) (*segment, error) {
	s := &segment{base: base, path: segmentName(dir, base, logSuffix), created: time.Now(), idxOK: true}
	f, err := os.OpenFile(s.path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("create segment: %w", err)
	}
	idx, err := os.OpenFile(s.indexPath(), os.O_WRONLY|os.O_CREATE|os.O_TRUNC|os.O_APPEND, 0o644)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("create index: %w", err)
	}
	s.f, s.idxFile = f, idx
	s.next.Store(base)
	s.modTime.Store(time.Now().UnixNano())
	return s, nil
}

// Wait blocks until the partition has records at or past offset, or ctx ends.
func (p *Partition) Wait(ctx context.Context, offset uint64) error {
	for {
		p.notifyMu.Lock()
		ch := p.notify
		p.notifyMu.Unlock()
		if p.NextOffset() > offset {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		case <-p.stream.spool.done:
			return ErrClosed
		}
	}
}

func (p *Partition) wake(ch *chan struct{}) {
	p.notifyMu.Lock()
	close(*ch)
	*ch = make(chan struct{})
	p.notifyMu.Unlock()
}

func (p *Partition) waitChan(ch *chan struct{}) <-chan struct{} {
	p.notifyMu.Lock()
	defer p.notifyMu.Unlock()
	return *ch
}

// sync forces the active segment to disk if it has unsynced appends.
func (p *Partition) sync() error {
	if !p.dirty.Swap(false) {
		return nil
	}
	s := p.active()
	if err := p.fdatasync(s.f); err != nil {
		p.dirty.Store(true)
		return fmt.Errorf("fsync %s: %w", s.path, err)
	}
	return nil
}

func (p *Partition) close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.segMu.Lock()
	defer p.segMu.Unlock()
	var first error
	for _, s := range p.segs {
		if s.idxFile != nil {
			s.idxFile.Close()
			s.idxFile = nil
		}
		if err := s.f.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}
