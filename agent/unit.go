package agent

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v4"
	"go.uber.org/zap"

	"github.com/capstan-agent/capstan/component"
	"github.com/capstan-agent/capstan/inputs/process"
	"github.com/capstan-agent/capstan/spool"
)

// unit is one configured input or output and the goroutine that runs it. Its
// component is built (purely) before the unit starts; the goroutine runs it,
// and rebuilds and reruns it with backoff when it fails.
type unit struct {
	id      component.ID
	path    string          // key path: inputs.NAME
	cfg     any             // *config.Input or *config.Output, compared on reload
	streams []*spool.Stream // what an output reads, or the one stream an input writes
	build   func() (any, error)
	log     *zap.Logger

	// Set by the agent before start.
	agentID     [16]byte
	checkpoints component.Checkpointer
	positions   string
	partitions  []component.Partition
	inherit     component.Inheritance // what the previous instance left, for the first Run
	chain       *process.Chain        // an input's processors, or nil
	appendStats *process.AppendStats
	deadLetter  []component.Partition // of the stream an output's dead letters go to
	statePath   string                // an output's own state file

	cancel context.CancelFunc
	done   chan struct{}

	mu       sync.Mutex
	comp     any // component.Input or component.Output now running
	status   status
	restarts atomic.Uint64
	ready    chan error // the first Run's outcome: nil once Ready, or why it failed before
}

type status struct {
	state  component.State
	reason string
	since  time.Time
}

func (u *unit) setState(s component.State, reason string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.status.state == s && u.status.reason == reason {
		return
	}
	prev := u.status
	u.status = status{s, reason, time.Now()}
	switch {
	case s == component.Degraded:
		u.log.Warn("degraded", zap.String("reason", reason))
	case prev.state == component.Degraded && s == component.Running:
		u.log.Info("running again", zap.Duration("degraded_for", time.Since(prev.since).Round(time.Millisecond)))
	}
}

func (u *unit) state() status {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.status
}

func (u *unit) component() any {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.comp
}

// start runs first in a goroutine; Run's outcome before Ready goes to
// u.ready. When Run fails after Ready (or before it, once the agent has
// moved on) the component is rebuilt and rerun with backoff.
func (u *unit) start(parent context.Context, first any) {
	ctx, cancel := context.WithCancel(parent)
	u.cancel, u.done = cancel, make(chan struct{})
	u.ready = make(chan error, 1)
	u.setState(component.Starting, "")
	go func() {
		defer close(u.done)
		defer func() { // left by a previous instance and taken by none
			u.mu.Lock()
			if u.inherit != nil {
				u.inherit.Close()
				u.inherit = nil
			}
			u.mu.Unlock()
		}()
		bo := backoff.NewExponentialBackOff()
		bo.InitialInterval, bo.MaxInterval, bo.MaxElapsedTime = time.Second, 30*time.Second, 0
		comp := first
		first := true
		for {
			if comp != nil {
				u.mu.Lock()
				u.comp = comp
				u.mu.Unlock()
				h := &host{u: u, first: first}
				began := time.Now()
				err := u.runOnce(ctx, comp, h)
				if ctx.Err() != nil {
					if err != nil && !errors.Is(err, context.Canceled) {
						u.log.Warn("stopped with an error", zap.Error(err))
					}
					u.setState(component.Stopped, "")
					return
				}
				if err == nil {
					err = errors.New("returned without being asked to stop")
				}
				if first && !h.readied.Load() {
					u.ready <- err // a start failure: the agent decides
				}
				first = false
				if time.Since(began) > bo.MaxInterval {
					bo.Reset()
				}
				u.restarts.Add(1)
				u.setState(component.Restarting, err.Error())
				u.log.Error("failed; restarting", zap.Error(err), zap.Uint64("restarts", u.restarts.Load()))
			}
			wait := bo.NextBackOff()
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				u.setState(component.Stopped, "")
				return
			case <-t.C:
			}
			c, err := u.build()
			if err != nil {
				comp = nil
				u.log.Error("rebuild failed", zap.Error(err))
				continue
			}
			comp = c
		}
	}()
}

func (u *unit) runOnce(ctx context.Context, comp any, h *host) error {
	switch c := comp.(type) {
	case component.Input:
		return c.Run(ctx, h)
	case component.Output:
		return c.Run(ctx, h)
	}
	return errors.New("not a component")
}

// waitReady waits for the first Run to say Ready or fail, until ctx ends.
func (u *unit) waitReady(ctx context.Context) error {
	select {
	case err := <-u.ready:
		return err
	case <-ctx.Done():
		return nil // not ready yet: it goes on starting
	case <-u.done:
		return nil
	}
}

// stop cancels the unit and waits for its Run to return, or ctx to end.
func (u *unit) stop(ctx context.Context) error {
	if u.cancel == nil {
		return nil
	}
	u.cancel()
	select {
	case <-u.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// host is the agent as one Run of a unit's component sees it.
type host struct {
	u       *unit
	first   bool
	readied atomic.Bool
}

func (h *host) Ready() {
	if h.readied.Swap(true) {
		return
	}
	h.u.setState(component.Running, "")
	if h.first {
		h.u.ready <- nil
	}
}

func (h *host) Report(s component.State, reason string) {
	if !h.readied.Load() {
		return
	}
	switch s {
	case component.Running, component.Degraded:
		h.u.setState(s, reason)
	}
}

func (h *host) AgentID() [16]byte                   { return h.u.agentID }
func (h *host) Partitions() []component.Partition   { return h.u.partitions }
func (h *host) PositionsPath() string               { return h.u.positions }
func (h *host) Streams() []*spool.Stream            { return h.u.streams }
func (h *host) Checkpoints() component.Checkpointer { return h.u.checkpoints }

func (h *host) Inherited() component.Inheritance {
	h.u.mu.Lock()
	defer h.u.mu.Unlock()
	i := h.u.inherit
	h.u.inherit = nil
	return i
}

// DeadLetterPartitions are the partitions of the stream the output's
// dead_letter names (component.DeadLetterHost).
func (h *host) DeadLetterPartitions() []component.Partition { return h.u.deadLetter }

// StatePath is the output's own state file (component.StateHost).
func (h *host) StatePath() string { return h.u.statePath }
