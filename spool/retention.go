package spool

import (
	"context"
	"time"

	"go.uber.org/zap"
)

// budget is the partition's share of the stream's max_bytes; 0 = no limit.
func (p *Partition) budget() int64 { return p.stream.opts.budget() }

// maintain rolls an old active segment and applies retention.
func (p *Partition) maintain(now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stream.spool.closed.Load() {
		return
	}
	if a := p.active(); a.size.Load() > 0 && now.Sub(a.created) > p.opts.SegmentAge {
		if _, err := p.roll(); err != nil {
			p.log.Error("age roll failed", zap.Error(err))
		}
	}
	if p.retain(now) {
		p.wake(&p.space)
	}
	p.blockSettled(now)
}

// retain deletes the oldest sealed segments that every consumer has committed
// past and that are older than max_age or over the partition's budget. It
// never deletes the active segment. It reports whether it freed anything.
func (p *Partition) retain(now time.Time) bool {
	freed := false
	for {
		segs := p.segments()
		if len(segs) < 2 {
			return freed
		}
		old := segs[0]
		min, ok := p.stream.spool.ckpt.min(Key{p.stream.name, p.id})
		committed := !ok || min >= old.next.Load()
		aged := p.stream.opts.MaxAge > 0 && now.Sub(time.Unix(0, old.modTime.Load())) > p.stream.opts.MaxAge
		over := p.budget() > 0 && p.bytes.Load()+p.pending.Load() > p.budget()
		if !committed || !(aged || over) {
			return freed
		}
		p.deleteOldest()
		freed = true
	}
}

// makeSpace is called with p.mu held before an append of n bytes, and
// returns once the append fits in the partition's budget (docs/architecture.md,
// retention): it frees committed segments; a partition held only in its
// active segment rolls it, so that it can go; then drop_oldest deletes the
// oldest segment even if unshipped, and block waits (releasing p.mu) for
// consumers to commit. An append larger than the whole budget is let through
// once the partition is empty: it could never fit.
func (p *Partition) makeSpace(ctx context.Context, n int64) error {
	budget := p.budget()
	if budget == 0 {
		return nil
	}
	waited := false
	for p.bytes.Load()+n > budget {
		if p.retain(time.Now()) {
			continue
		}
		segs := p.segments()
		if len(segs) == 1 {
			if segs[0].size.Load() == 0 {
				p.log.Warn("append larger than the partition's share of max_bytes written alone",
					zap.Int64("bytes", n), zap.Int64("budget_bytes", budget))
				return nil
			}
			if _, err := p.roll(); err != nil {
				return err
			}
			continue
		}
		if p.stream.opts.WhenFull == DropOldest {
			old := segs[0]
			lost := old.next.Load() - old.base
			p.stats.droppedRecords.Add(lost)
			p.stats.droppedSegments.Add(1)
			p.log.Warn("spool full: dropped the oldest segment unshipped",
				zap.String("segment", old.path), zap.Uint64("records", lost),
				zap.Uint64("first_offset", old.base), zap.Uint64("next_offset", old.next.Load()))
			p.droppedBelow.Store(old.next.Load())
			p.deleteOldest()
			continue
		}
		if !waited {
			waited = true
			p.blockStarted(n, budget)
		}
		if err := p.waitForSpace(ctx, n); err != nil {
			return err
		}
	}
	return nil
}

// waitForSpace releases p.mu until a commit frees space, ctx ends or the
// spool closes.
func (p *Partition) waitForSpace(ctx context.Context, n int64) error {
	ch := p.waitChan(&p.space)
	p.stats.blocked.Add(1)
	p.pending.Add(n) // lets a commit's retention free room for this append
	p.mu.Unlock()
	var err error
	select {
	case <-ch:
	case <-ctx.Done():
		err = ctx.Err()
	case <-p.stream.spool.done:
		err = ErrClosed
	}
	p.mu.Lock()
	p.pending.Add(-n)
	p.stats.blocked.Add(-1)
	p.block.lastWait = time.Now()
	if err == nil && p.stream.spool.closed.Load() {
		err = ErrClosed
	}
	return err
}

func (p *Partition) deleteOldest() {
	p.segMu.Lock()
	old := p.segs[0]
	p.segs = p.segs[1:]
	p.segMu.Unlock()
	old.deleted.Store(true)
	p.bytes.Add(-old.size.Load())
	old.f.Close()
	removeSegmentFiles(old)
	p.log.Debug("segment deleted", zap.String("segment", old.path))
}

// committed is called after a consumer committed offsets of this partition.
func (p *Partition) committed() {
	p.mu.Lock()
	freed := p.retain(time.Now())
	p.mu.Unlock()
	if freed {
		p.wake(&p.space)
	}
}
