package delivery

import (
	"context"
	"errors"
	"io"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/capstan-agent/capstan/shipper"
	"github.com/capstan-agent/capstan/spool"
)

// maxOpen bounds the requests a lane fills at once (one per key): past it,
// the oldest is sent.
const maxOpen = 256

// lane assembles one partition's records into requests and keeps the
// partition's commit point: the first offset of the oldest request not yet
// resolved, or, when none is, where assembling got to.
type lane struct {
	e    *Engine
	cur  *shipper.Cursor
	key  spool.Key
	part *spool.Partition
	buf  []byte
	recs records

	// Requests being filled, in the order they were opened.
	open   []*Request
	single *Request            // without a Keyer
	byKey  map[string]*Request // with one

	mu     sync.Mutex
	fifo   []entry // requests not resolved, by first offset
	head   uint64  // id of fifo[0]
	nextID uint64
	pos    uint64              // records before pos are in a request not resolved, or resolved
	busy   map[string][]flight // Ordered: each key's requests sent and not resolved
	woken  bool
	cancel context.CancelFunc // ends the lane's wait
}

type entry struct {
	first uint64
	done  bool
}

// flight is a request in flight of an Ordered key: its commit entry and
// the timestamp of its oldest record.
type flight struct {
	id     uint64
	oldest int64
}

func newLane(e *Engine, c *shipper.Cursor) *lane {
	l := &lane{e: e, cur: c, key: c.Key(), part: c.Partition(), pos: c.Acked(),
		byKey: map[string]*Request{}, busy: map[string][]flight{}}
	l.recs.key = l.key
	l.recs.damaged = func(first, next uint64, err error) {
		e.stats.Damaged.Add(1)
		e.log.Error("undecodable batch skipped", zap.Stringer("partition", l.key),
			zap.Uint64("first", first), zap.Uint64("next", next), zap.Error(err))
	}
	return l
}

// run assembles until ctx ends. Its error is the spool's (closed).
func (l *lane) run(ctx context.Context) error {
	for ctx.Err() == nil {
		rg, ok, err := l.cur.Poll(readBytes)
		if err != nil {
			return quiet(ctx, err)
		}
		if ok {
			if err := l.take(ctx, rg); err != nil {
				return quiet(ctx, err)
			}
			if err := l.flushDue(ctx, false); err != nil {
				return quiet(ctx, err)
			}
			if err := l.sendFree(ctx, nil); err != nil {
				return quiet(ctx, err)
			}
			continue
		}
		if err := l.flushDue(ctx, true); err != nil {
			return quiet(ctx, err)
		}
		if err := l.wait(ctx, true); err != nil {
			return quiet(ctx, err)
		}
	}
	return nil
}

// quiet drops the errors a stop causes.
func quiet(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// take adds the records of a range to requests.
func (l *lane) take(ctx context.Context, rg spool.Range) error {
	if cap(l.buf) < int(rg.Len) {
		l.buf = make([]byte, rg.Len)
	}
	l.buf = l.buf[:rg.Len]
	if _, err := rg.File.ReadAt(l.buf, rg.Pos); err != nil && err != io.EOF {
		// A segment deleted under the reader (drop_oldest): read again from
		// where assembling got to; the reader reports the gap.
		l.e.log.Error("read spool", zap.Stringer("partition", l.key), zap.Error(err))
		l.cur.Reread(l.pos)
		return nil
	}
	l.recs.reset(l.buf, l.pos)
	for rec := l.recs.next(); rec != nil; rec = l.recs.next() {
		if err := l.add(ctx, rec); err != nil {
			return err
		}
	}
	l.mu.Lock()
	l.pos = max(l.pos, rg.Next)
	idle, pos := len(l.fifo) == 0, l.pos
	l.mu.Unlock()
	if idle && pos > l.cur.Acked() {
		// Nothing of this range is in a request (all of it dead-lettered or
		// skipped): it is resolved already.
		l.cur.Ack(pos)
		l.e.commit()
	}
	return nil
}

// add encodes rec into the request of its key, sending it when full.
func (l *lane) add(ctx context.Context, rec *Record) error {
	e := l.e
	var req *Request
	if e.keyer == nil {
		if req = l.single; req == nil {
			req = l.openRequest(rec, "")
			l.single = req
		}
	} else {
		k := e.keyer.Key(rec)
		if req = l.byKey[string(k)]; req == nil {
			if len(l.open) >= maxOpen {
				if err := l.flush(ctx, l.open[0], true); err != nil {
					return err
				}
			}
			req = l.openRequest(rec, string(k))
			l.byKey[req.key] = req
		}
	}
	mark := len(req.Body)
	if err := e.enc.Encode(req, rec); err != nil {
		req.Body = req.Body[:mark]
		return e.deadLetterRecord(ctx, rec, "encode", err.Error())
	}
	req.added(rec.Offset, rec.Timestamp)
	if len(req.Body) >= int(e.opts.Batch.MaxBytes) || req.n >= e.opts.Batch.MaxRecords {
		return l.flush(ctx, req, true)
	}
	return nil
}

func (l *lane) openRequest(rec *Record, key string) *Request {
	req := l.e.acquire()
	req.lane, req.key, req.opened = l, key, time.Now()
	l.mu.Lock()
	req.entry = l.nextID
	l.nextID++
	l.fifo = append(l.fifo, entry{first: rec.Offset})
	l.mu.Unlock()
	l.open = append(l.open, req)
	return req
}

// flush sends req. With Ordered, a request that may not go yet (held)
// stays open and keeps filling; if it is full (must), flush waits.
func (l *lane) flush(ctx context.Context, req *Request, must bool) error {
	e := l.e
	if e.opts.Ordered {
		for {
			l.mu.Lock()
			held := l.held(req)
			if !held {
				l.busy[req.key] = append(l.busy[req.key], flight{id: req.entry, oldest: req.oldest})
			}
			l.mu.Unlock()
			if !held {
				break
			}
			if !must {
				return nil
			}
			if err := l.sendFree(ctx, req); err != nil {
				return err
			}
			if err := l.wait(ctx, false); err != nil {
				return err
			}
		}
	}
	l.close(req)
	// Every record before req's last is in req, in another request not
	// resolved (whose entry comes first), or resolved: once req is, the
	// commit point may pass it even though the range is not done.
	l.mu.Lock()
	l.pos = max(l.pos, req.Next())
	l.mu.Unlock()
	if req.n == 0 { // every record of it was dead-lettered when encoded
		e.resolved(req)
		return nil
	}
	e.stats.records.Observe(float64(req.n))
	e.stats.bytes.Observe(float64(len(req.Body)))
	select {
	case e.work <- req:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// held says whether Ordered holds req back: its key has OrderedInFlight
// requests in flight already, or one whose oldest record is more than
// OrderedSpan older than req's newest. l.mu is held.
func (l *lane) held(req *Request) bool {
	fs := l.busy[req.key]
	if len(fs) == 0 {
		return false
	}
	if len(fs) >= max(l.e.opts.OrderedInFlight, 1) {
		return true
	}
	for _, f := range fs {
		// The difference of two int64s, as an unsigned, is exact when
		// newest > oldest.
		if req.newest > f.oldest && uint64(req.newest)-uint64(f.oldest) > uint64(l.e.opts.OrderedSpan) {
			return true
		}
	}
	return false
}

// unbusy takes the request of entry id off its key's flights; l.mu is
// held.
func (l *lane) unbusy(key string, id uint64) {
	fs := l.busy[key]
	for i, f := range fs {
		if f.id == id {
			fs = append(fs[:i], fs[i+1:]...)
			break
		}
	}
	if len(fs) == 0 {
		delete(l.busy, key)
	} else {
		l.busy[key] = fs
	}
}

// sendFree (Ordered, linger 0) sends the requests being filled that their
// key lets go (see held), full or not. Otherwise a key's request that is still
// filling when the lane moves on to other keys' records holds the
// partition's commit point while they are delivered, and a kill -9 sends
// them all again — older, by then, than what the destination holds of their
// keys (Loki refuses entries too far behind its stream's newest). except
// is the request the caller is sending itself.
func (l *lane) sendFree(ctx context.Context, except *Request) error {
	if !l.e.opts.Ordered || l.e.opts.Batch.Linger != 0 {
		return nil
	}
	for i := 0; i < len(l.open); {
		if l.open[i] == except {
			i++
			continue
		}
		n := len(l.open)
		if err := l.flush(ctx, l.open[i], false); err != nil {
			return err
		}
		if len(l.open) == n { // held back for its key
			i++
		}
	}
	return nil
}

// close takes req out of the requests being filled.
func (l *lane) close(req *Request) {
	if l.single == req {
		l.single = nil
	} else if l.byKey[req.key] == req {
		delete(l.byKey, req.key)
	}
	for i, r := range l.open {
		if r == req {
			l.open = append(l.open[:i], l.open[i+1:]...)
			break
		}
	}
}

// flushDue sends the requests whose linger is over; caughtUp says the
// lane has read everything spooled, which ends every linger of 0 (and every
// linger while the output drains).
func (l *lane) flushDue(ctx context.Context, caughtUp bool) error {
	if len(l.open) == 0 {
		return nil
	}
	linger := l.e.opts.Batch.Linger
	all := caughtUp && (linger == 0 || l.e.draining.Load())
	var now time.Time
	if !all {
		if linger == 0 {
			return nil
		}
		now = time.Now()
	}
	for i := 0; i < len(l.open); {
		req := l.open[i]
		if !all && now.Sub(req.opened) < linger {
			i++
			continue
		}
		n := len(l.open)
		if err := l.flush(ctx, req, false); err != nil {
			return err
		}
		if len(l.open) == n { // held back for its key
			i++
		}
	}
	return nil
}

// wait waits for data (forData) or for a poke, or for the first linger to
// end, or ctx.
func (l *lane) wait(ctx context.Context, forData bool) error {
	var deadline time.Time
	if linger := l.e.opts.Batch.Linger; linger > 0 && !l.e.draining.Load() {
		l.mu.Lock()
		for _, req := range l.open {
			if l.held(req) {
				continue // held for its key: a poke ends the wait, not its linger
			}
			if d := req.opened.Add(linger); deadline.IsZero() || d.Before(deadline) {
				deadline = d
			}
		}
		l.mu.Unlock()
	}
	wctx, cancel := context.WithCancel(ctx)
	if !deadline.IsZero() {
		cancel()
		wctx, cancel = context.WithDeadline(ctx, deadline)
	}
	defer cancel()
	l.mu.Lock()
	if l.woken {
		l.woken = false
		l.mu.Unlock()
		return nil
	}
	l.cancel = cancel
	l.mu.Unlock()
	var err error
	if forData {
		err = l.cur.Wait(wctx)
	} else {
		<-wctx.Done()
	}
	l.mu.Lock()
	l.cancel, l.woken = nil, false
	l.mu.Unlock()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if errors.Is(err, spool.ErrClosed) {
		return err
	}
	return nil
}

// poke ends the lane's wait (a key's request was resolved, the output
// drains).
func (l *lane) poke() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cancel != nil {
		l.cancel()
	} else {
		l.woken = true
	}
}

// done resolves entry id and returns the commit point; l.mu is held.
func (l *lane) done(id uint64) uint64 {
	l.fifo[id-l.head].done = true
	for len(l.fifo) > 0 && l.fifo[0].done {
		l.fifo = l.fifo[1:]
		l.head++
	}
	if len(l.fifo) > 0 {
		return l.fifo[0].first
	}
	return l.pos
}
