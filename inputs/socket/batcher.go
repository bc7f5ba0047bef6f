package socket

import (
	"context"
	"errors"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/capstan-agent/capstan/spool"
	"github.com/capstan-agent/capstan/spool/batch"
)

// Appender takes whole batches: *spool.Partition satisfies it.
type Appender interface {
	Append(ctx context.Context, b []byte) (spool.AppendResult, error)
}

// errBehind says a datagram found no free batch in time: the spool is behind.
var errBehind = errors.New("batches full")

// batcher gathers records from many connections into batches for one
// partition. It owns two builders: one filling under mu, one with the
// flusher being appended. When both are taken, stream connections wait (and
// so stop reading their sockets) and datagrams are dropped: memory stays at
// two batches per partition whatever the load.
type batcher struct {
	app      Appender
	attrs    []batch.Attr // source attributes
	maxBytes int
	linger   time.Duration
	stats    *Stats
	log      *zap.Logger

	mu   sync.Mutex
	cur  *batch.Builder      // filling; nil while both are with the flusher
	free chan *batch.Builder // builders ready to fill
	full chan *batch.Builder // builders waiting to be appended, in order
	kick chan struct{}       // a batch got its first record: start the linger
}

func newBatcher(app Appender, attrs []batch.Attr, maxBytes int, linger time.Duration, stats *Stats, log *zap.Logger) *batcher {
	b := &batcher{
		app: app, attrs: attrs, maxBytes: maxBytes, linger: linger, stats: stats, log: log,
		free: make(chan *batch.Builder, 2),
		full: make(chan *batch.Builder, 2),
		kick: make(chan struct{}, 1),
	}
	b.free <- new(batch.Builder)
	b.free <- new(batch.Builder)
	return b
}

// lock takes mu with a builder to fill in b.cur, waiting for one (with mu
// released meanwhile) until ctx ends, or for at most maxWait when maxWait
// is positive: then it fails with errBehind. mu is held on return, error or
// not.
func (b *batcher) lock(ctx context.Context, maxWait time.Duration) error {
	b.mu.Lock()
	return b.ready(ctx, maxWait)
}

// ready is lock for a caller that holds mu already.
func (b *batcher) ready(ctx context.Context, maxWait time.Duration) error {
	var expired <-chan time.Time
	for b.cur == nil {
		select {
		case nb := <-b.free:
			nb.Reset(0, b.attrs)
			b.cur = nb
			continue
		default:
		}
		if maxWait > 0 && expired == nil {
			t := time.NewTimer(maxWait)
			defer t.Stop()
			expired = t.C
		}
		b.mu.Unlock()
		select {
		case nb := <-b.free:
			b.mu.Lock()
			if b.cur == nil {
				nb.Reset(0, b.attrs)
				b.cur = nb
			} else {
				b.free <- nb
			}
		case <-expired:
			b.mu.Lock()
			return errBehind
		case <-ctx.Done():
			b.mu.Lock()
			return ctx.Err()
		}
	}
	return nil
}

// added is called, mu held, after a record went into b.cur: it starts the
// linger for a new batch and hands a full one to the flusher.
func (b *batcher) added() {
	if b.cur.Count() == 1 {
		select {
		case b.kick <- struct{}{}:
		default:
		}
	}
	if b.cur.Len() >= b.maxBytes {
		b.full <- b.cur // never blocks: it has room for both builders
		b.cur = nil
	}
}

func (b *batcher) unlock() { b.mu.Unlock() }

// run appends full batches, and lingering ones when their time is up, until
// stop is closed; then it appends what is left. ctx bounds the appends.
func (b *batcher) run(ctx context.Context, stop <-chan struct{}) {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	armed := false
	for {
		select {
		case bl := <-b.full:
			b.append(ctx, bl)
		case <-b.kick:
			if !armed {
				timer.Reset(b.linger)
				armed = true
			}
		case <-timer.C:
			armed = false
			b.mu.Lock()
			if b.cur != nil && b.cur.Count() > 0 {
				b.full <- b.cur
				b.cur = nil
			}
			b.mu.Unlock()
		case <-stop:
			timer.Stop()
			b.mu.Lock()
			if b.cur != nil && b.cur.Count() > 0 {
				b.full <- b.cur
				b.cur = nil
			}
			b.mu.Unlock()
			for len(b.full) > 0 {
				b.append(ctx, <-b.full)
			}
			return
		}
	}
}

func (b *batcher) append(ctx context.Context, bl *batch.Builder) {
	defer func() { b.free <- bl }()
	n := bl.Count()
	if n == 0 {
		return
	}
	if _, err := b.app.Append(ctx, bl.Bytes()); err != nil {
		b.stats.AppendErrors.Add(1)
		b.stats.LostRecords.Add(uint64(n))
		b.log.Error("append to spool failed; records lost", zap.Int("records", n), zap.Error(err))
		return
	}
	b.stats.Batches.Add(1)
}
