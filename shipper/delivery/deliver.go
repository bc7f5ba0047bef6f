package delivery

import (
	"context"
	"math/bits"
	"sort"
	"time"

	"github.com/cenkalti/backoff/v4"
	"go.uber.org/zap"
)

// runWorker sends requests until ctx ends; Sends run under sctx, which
// outlives ctx by drain_timeout.
func (e *Engine) runWorker(ctx, sctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case req := <-e.work:
			if e.attempts(ctx, sctx, req) {
				e.resolved(req)
			}
		}
	}
}

// attempts sends req until each of its records is delivered or
// dead-lettered (true), or the output stops (false: req is abandoned, not
// committed, and goes again at the next run).
func (e *Engine) attempts(ctx, sctx context.Context, req *Request) bool {
	var bo *backoff.ExponentialBackOff
	failing := false
	defer func() {
		if failing {
			e.recovered()
		}
	}()
	for {
		if ctx.Err() != nil {
			return false
		}
		res := e.sendOnce(sctx, req)
		switch res.kind {
		case delivered:
			again, reason, ok := e.settle(ctx, req)
			if !ok {
				return false
			}
			if !again {
				return true
			}
			res = Retry(reason, nil)
			if req.attempt >= 1 && !failing { // items refused twice in a row
				failing = true
				e.failed(res.reason, nil)
			}
		case reject:
			return e.deadLetterAll(ctx, req, res.reason, res.detail())
		case tooLarge:
			e.stats.failures.add(res.reason, 1)
			if req.n == 1 {
				return e.deadLetterAll(ctx, req, res.reason, res.detail())
			}
			return e.split(ctx, sctx, req)
		case retry:
			if sctx.Err() != nil {
				return false // cut off at shutdown
			}
			e.stats.failures.add(res.reason, 1)
			if !failing {
				failing = true
				e.failed(res.reason, res.err)
			}
		}
		if max := e.opts.Retry.MaxAttempts; max > 0 && req.attempt+1 >= max {
			return e.deadLetterAll(ctx, req, "retries_exhausted", res.detail())
		}
		if bo == nil {
			bo = backoff.NewExponentialBackOff(backoff.WithInitialInterval(e.opts.Retry.Initial),
				backoff.WithMaxInterval(e.opts.Retry.Max), backoff.WithMaxElapsedTime(0))
		}
		wait := max(bo.NextBackOff(), min(res.after, MaxRetryAfter))
		e.logRetry(req, res, wait)
		if !sleep(ctx, wait) {
			return false
		}
		req.attempt++
	}
}

// sendOnce sends req once, with the request timeout, and counts it.
func (e *Engine) sendOnce(sctx context.Context, req *Request) Result {
	ctx, cancel := sctx, context.CancelFunc(nil)
	if e.opts.Timeout > 0 {
		ctx, cancel = context.WithTimeout(sctx, e.opts.Timeout)
	}
	req.marks = req.marks[:0]
	s := e.stats
	s.Requests.Add(1)
	if req.attempt > 0 {
		s.Retries.Add(1)
	}
	size := int64(len(req.Body))
	s.InFlight.Add(size)
	s.Requesting.Add(1)
	start := time.Now()
	res := e.send.Send(ctx, req)
	s.duration.Observe(time.Since(start).Seconds())
	s.InFlight.Add(-size)
	s.Requesting.Add(-1)
	if cancel != nil {
		if res.kind == retry && ctx.Err() != nil && sctx.Err() == nil && res.reason == "" {
			res.reason = "timeout"
		}
		cancel()
	}
	if res.kind == retry && res.reason == "" {
		res.reason = "error"
	}
	if res.kind == delivered {
		s.Bytes.Add(uint64(size))
	}
	return res
}

// settle acts on the per-record answers of a delivered request: duplicates
// are counted, rejected records dead-lettered, and the request is rebuilt
// from the records to send again (again is true if there are any). ok is
// false if the output stopped meanwhile; reason is that of the first record
// to send again.
func (e *Engine) settle(ctx context.Context, req *Request) (again bool, reason string, ok bool) {
	if len(req.marks) == 0 {
		e.stats.Records.Add(uint64(req.n))
		return false, "", true
	}
	marks := req.marks
	sort.SliceStable(marks, func(i, j int) bool { return marks[i].i < marks[j].i })
	var retryOffs []uint64
	var dead []deadItem
	dups, last := 0, -1
	for _, m := range marks {
		if m.i == last || m.i < 0 || m.i >= req.n {
			continue // one answer per record
		}
		last = m.i
		switch m.kind {
		case markRetry:
			retryOffs = append(retryOffs, req.Offset(m.i))
		case markReject:
			dead = append(dead, deadItem{off: req.Offset(m.i), reason: m.reason, detail: m.detail})
		case markDuplicate:
			dups++
		}
	}
	e.stats.Records.Add(uint64(max(req.n-len(retryOffs)-len(dead), 0)))
	e.stats.Duplicates.Add(uint64(dups))
	if len(dead) > 0 && !e.deadLetter(ctx, req.lane, dead) {
		return false, "", false
	}
	if len(retryOffs) == 0 {
		return false, "", true
	}
	reason = "record"
	for _, m := range marks {
		if m.kind == markRetry {
			reason = m.reason
			break
		}
	}
	e.stats.failures.add(reason, 1)
	if !e.rebuild(ctx, req, retryOffs) {
		return false, "", false
	}
	return req.n > 0, reason, true
}

// split sends the two halves of a request the destination found too large,
// one after the other (each may be split again).
func (e *Engine) split(ctx, sctx context.Context, req *Request) bool {
	offs := req.offsets(make([]uint64, 0, req.n))
	half := len(offs) / 2
	e.log.Info("request too large for the destination; sending it in two halves",
		zap.Stringer("partition", req.lane.key), zap.Int("records", req.n), zap.Int("bytes", len(req.Body)))
	for _, part := range [][]uint64{offs[:half], offs[half:]} {
		if !e.rebuild(ctx, req, part) {
			return false
		}
		if req.n == 0 {
			continue
		}
		req.attempt = 0
		if !e.attempts(ctx, sctx, req) {
			return false
		}
	}
	return true
}

// rebuild makes req again from the records at offs, read from the spool.
func (e *Engine) rebuild(ctx context.Context, req *Request, offs []uint64) bool {
	req.reset()
	var failed []deadItem
	err := e.reread(req.lane, offs, func(_ int, rec *Record) error {
		mark := len(req.Body)
		if err := e.enc.Encode(req, rec); err != nil {
			req.Body = req.Body[:mark]
			failed = append(failed, deadItem{off: rec.Offset, reason: "encode", detail: err.Error()})
			return nil
		}
		req.added(rec.Offset, rec.Timestamp)
		return nil
	})
	if err != nil {
		e.log.Error("re-read of records to send again failed", zap.Stringer("partition", req.lane.key), zap.Error(err))
		return false
	}
	return len(failed) == 0 || e.deadLetter(ctx, req.lane, failed)
}

// logRetry logs a request's failures: the first, then at attempts 2, 4,
// 8 …, so that an outage of hours writes a few dozen lines.
func (e *Engine) logRetry(req *Request, res Result, wait time.Duration) {
	if a := req.attempt; a > 1 && bits.OnesCount(uint(a)) != 1 {
		return
	}
	e.log.Warn("send failed; retrying", zap.Stringer("partition", req.lane.key), zap.String("reason", res.reason),
		zap.String("error", res.detail()), zap.Int("attempt", req.attempt+1), zap.Int("records", req.n),
		zap.Duration("retry_in", wait))
}

// sleep waits d or until ctx ends (false).
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
