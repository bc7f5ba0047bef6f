package delivery

import (
	"context"
	"errors"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// Failure wraps a Streamer's error with a reason (a short class, the
// failures_total label); other errors count as "stream".
func Failure(reason string, err error) error { return &failure{reason, err} }

type failure struct {
	reason string
	err    error
}

func (f *failure) Error() string { return f.err.Error() }
func (f *failure) Unwrap() error { return f.err }

func reasonOf(err error) string {
	var f *failure
	if errors.As(err, &f) {
		return f.reason
	}
	return "stream"
}

// runStream writes requests in order on the output's stream, up to
// concurrency ahead of the oldest unacknowledged one, and resolves each as
// it is acknowledged. When the stream breaks, what was written and not
// acknowledged is written again, in order, after a backoff. After ctx
// ends nothing new is written; what is written gets until sctx ends to be
// acknowledged.
func (e *Engine) runStream(ctx, sctx context.Context) {
	var inflight, again []*Request
	var bo *backoff.ExponentialBackOff
	var lastErr error // of the last break, for a request given up on
	failing := false
	defer func() {
		if failing {
			e.recovered()
		}
	}()
	broke := func(err error, pending []*Request) bool {
		// Everything not acknowledged goes again, in order, before anything new.
		again = append(append(make([]*Request, 0, len(pending)+len(again)), pending...), again...)
		inflight = inflight[:0]
		for _, r := range again {
			r.attempt++
		}
		if sctx.Err() != nil {
			return false
		}
		reason := reasonOf(err)
		lastErr = err
		e.stats.failures.add(reason, 1)
		if !failing {
			failing = true
			e.failed(reason, err)
		}
		if bo == nil {
			bo = backoff.NewExponentialBackOff(backoff.WithInitialInterval(e.opts.Retry.Initial),
				backoff.WithMaxInterval(e.opts.Retry.Max), backoff.WithMaxElapsedTime(0))
		}
		wait := bo.NextBackOff()
		e.logRetry(again[0], Retry(reason, err), wait)
		return sleep(ctx, wait)
	}
	for {
		// Write ahead.
		for len(inflight) < e.opts.Concurrency && ctx.Err() == nil {
			var req *Request
			switch {
			case len(again) > 0:
				req, again = again[0], again[1:]
			case len(inflight) > 0:
				select {
				case req = <-e.work:
				default:
				}
			default:
				select {
				case req = <-e.work:
				case <-ctx.Done():
				}
			}
			if req == nil {
				break
			}
			if max := e.opts.Retry.MaxAttempts; max > 0 && req.attempt >= max {
				if e.deadLetterAll(ctx, req, "retries_exhausted", lastErr.Error()) {
					e.resolved(req)
				}
				continue
			}
			e.stats.Requests.Add(1)
			if req.attempt > 0 {
				e.stats.Retries.Add(1)
			}
			req.opened = time.Now()
			if err := e.stream.Write(sctx, req); err != nil {
				if !broke(err, append(inflight, req)) {
					return
				}
				continue
			}
			e.stats.InFlight.Add(int64(len(req.Body)))
			e.stats.Requesting.Add(1)
			inflight = append(inflight, req)
		}
		if len(inflight) == 0 {
			if ctx.Err() != nil {
				return
			}
			continue
		}
		head := inflight[0]
		err := e.stream.Acked(sctx, head)
		e.stats.InFlight.Add(-int64(len(head.Body)))
		e.stats.Requesting.Add(-1)
		if err != nil {
			for _, r := range inflight[1:] {
				e.stats.InFlight.Add(-int64(len(r.Body)))
				e.stats.Requesting.Add(-1)
			}
			if !broke(err, inflight) {
				return
			}
			continue
		}
		e.stats.duration.Observe(time.Since(head.opened).Seconds())
		e.stats.Records.Add(uint64(head.n))
		e.stats.Bytes.Add(uint64(len(head.Body)))
		inflight = inflight[1:]
		if failing {
			failing = false
			e.recovered()
		}
		if bo != nil {
			bo.Reset()
		}
		e.resolved(head)
	}
}
