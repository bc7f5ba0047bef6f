package agent

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/capstan-agent/capstan/spool"
	"github.com/cenkalti/backoff/v4"
	"go.uber.org/zap"
)

// unit is one configured input or output and the goroutine that runs it.
type unit struct {
	kind      string // "input" or "output"
	name, typ string
	cfg       any             // *config.Input or *config.Output, compared on reload
	streams   []*spool.Stream // streams an output reads, resolved; compared on reload
	available bool            // false: the type has no factory in this build

	cancel context.CancelFunc
	done   chan struct{}

	cur      atomic.Pointer[holder]
	up       atomic.Bool
	restarts atomic.Uint64
}

type holder struct{ c Component }

func (u *unit) component() Component {
	if h := u.cur.Load(); h != nil {
		return h.c
	}
	return nil
}

// start runs first, and rebuilds and reruns it with backoff whenever it
// returns while ctx is alive: a failing component never stops the others.
func (u *unit) start(parent context.Context, first Component, build func() (Component, error), log *zap.Logger) {
	ctx, cancel := context.WithCancel(parent)
	u.cancel, u.done = cancel, make(chan struct{})
	u.cur.Store(&holder{first})
	u.up.Store(first != nil)
	go func() {
		defer close(u.done)
		bo := backoff.NewExponentialBackOff()
		bo.InitialInterval, bo.MaxInterval, bo.MaxElapsedTime = time.Second, 30*time.Second, 0
		comp := first
		for {
			if comp != nil {
				u.cur.Store(&holder{comp})
				u.up.Store(true)
				began := time.Now()
				err := comp.Run(ctx)
				u.up.Store(false)
				if ctx.Err() != nil {
					if err != nil && !errors.Is(err, context.Canceled) {
						log.Warn("stopped with an error", zap.Error(err))
					}
					return
				}
				if time.Since(began) > bo.MaxInterval {
					bo.Reset()
				}
				u.restarts.Add(1)
				if err == nil {
					err = errors.New("returned without being asked to stop")
				}
				log.Error("failed; restarting", zap.Error(err), zap.Uint64("restarts", u.restarts.Load()))
			}
			wait := bo.NextBackOff()
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			var err error
			if comp, err = build(); err != nil {
				comp = nil
				log.Error("rebuild failed", zap.Error(err))
			}
		}
	}()
}

// stop cancels the unit and waits for its Run to return.
func (u *unit) stop() {
	if u.cancel == nil {
		return
	}
	u.cancel()
	<-u.done
}
