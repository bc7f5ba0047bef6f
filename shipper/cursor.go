package shipper

import (
	"context"
	"errors"
	"sync/atomic"

	"go.uber.org/zap"

	"github.com/capstan-agent/capstan/spool"
)

// Cursor reads one partition for one output: ranges of whole batches from
// where the output's peer last acknowledged. Next and Rewind belong to the one
// goroutine that sends the partition; Ack may come from any goroutine.
type Cursor struct {
	name   string // the output's
	key    spool.Key
	part   *spool.Partition
	r      *spool.Reader
	acked  atomic.Uint64 // next offset the peer has not acknowledged
	log    *zap.Logger
	notify func() // called when acked moves (Group.Drain waits on it)
}

func newCursor(name string, key spool.Key, p *spool.Partition, from uint64, log *zap.Logger) *Cursor {
	c := &Cursor{name: name, key: key, part: p, r: p.NewReader(from), log: log}
	c.acked.Store(from)
	return c
}

// Key names the partition.
func (c *Cursor) Key() spool.Key { return c.key }

// Partition is the spool partition the cursor reads.
func (c *Cursor) Partition() *spool.Partition { return c.part }

// Next returns the next range of at most maxBytes (at least one batch),
// waiting for data until ctx ends. Offsets that are gone (retention,
// drop_oldest, damage) are logged with the reason and skipped: there is
// nothing left to send. A position past the end of the partition is logged
// and moved to the end.
func (c *Cursor) Next(ctx context.Context, maxBytes int64) (spool.Range, error) {
	for {
		rg, ok, err := c.Poll(maxBytes)
		if err != nil || ok {
			return rg, err
		}
		if err := c.part.Wait(ctx, c.r.Offset()); err != nil {
			return spool.Range{}, err
		}
	}
}

// Poll is Next without waiting: ok is false when the partition holds
// nothing past the cursor yet.
func (c *Cursor) Poll(maxBytes int64) (rg spool.Range, ok bool, err error) {
	for {
		rg, err := c.r.Next(maxBytes)
		if err == nil {
			return rg, true, nil
		}
		var gap *spool.GapError
		var corrupt *spool.CorruptionError
		var beyond *spool.BeyondEndError
		switch {
		case errors.Is(err, spool.ErrNoData):
			return spool.Range{}, false, nil
		case errors.As(err, &gap):
			c.log.Warn("offsets skipped: no longer in the spool", zap.String("output", c.name),
				zap.Stringer("partition", c.key), zap.Uint64("from", gap.From), zap.Uint64("to", gap.To-1),
				zap.Uint64("records", gap.Lost()), zap.String("reason", string(gap.Reason)))
		case errors.As(err, &corrupt):
			c.log.Error("damaged batches skipped", zap.String("output", c.name), zap.Stringer("partition", c.key),
				zap.String("segment", corrupt.Segment), zap.Int64("pos", corrupt.Pos),
				zap.Uint64("from", corrupt.Offset), zap.Uint64("resume", corrupt.Resume),
				zap.String("reason", string(spool.GapDamaged)), zap.Error(corrupt.Err))
		case errors.As(err, &beyond):
			c.log.Error("read position beyond the end of the partition; resuming at the end",
				zap.String("output", c.name), zap.Stringer("partition", c.key),
				zap.Uint64("offset", beyond.Offset), zap.Uint64("next_offset", beyond.Next))
		default:
			return spool.Range{}, false, err
		}
	}
}

// Wait blocks until the partition holds something past the cursor, or ctx
// ends.
func (c *Cursor) Wait(ctx context.Context) error { return c.part.Wait(ctx, c.r.Offset()) }

// Reread moves where the cursor reads next, keeping what is acknowledged:
// for a reader that lost what it read (a segment deleted under it).
func (c *Cursor) Reread(off uint64) { c.r = c.part.NewReader(off) }

// Seek moves the cursor, sent and acknowledged, to offset off: for an
// output that keeps its own position with its data (the file output) and
// resumes there rather than at the checkpoint. Call it before reading.
func (c *Cursor) Seek(off uint64) {
	c.r = c.part.NewReader(off)
	c.acked.Store(off)
}

// Ack records that the peer holds every record before next. Acks only move
// forward.
func (c *Cursor) Ack(next uint64) {
	for {
		cur := c.acked.Load()
		if next <= cur {
			return
		}
		if c.acked.CompareAndSwap(cur, next) {
			if c.notify != nil {
				c.notify()
			}
			return
		}
	}
}

// Acked is the offset up to which the peer acknowledged (exclusive): what a
// checkpoint may hold.
func (c *Cursor) Acked() uint64 { return c.acked.Load() }

// Sent is where the next range starts.
func (c *Cursor) Sent() uint64 { return c.r.Offset() }

// Rewind moves the cursor back to the acknowledged offset, for a sender
// whose connection broke with frames unacknowledged.
func (c *Cursor) Rewind() {
	if c.r.Offset() != c.acked.Load() {
		c.r = c.part.NewReader(c.acked.Load())
	}
}
