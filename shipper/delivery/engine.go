package delivery

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/capstan-agent/capstan/component"
	"github.com/capstan-agent/capstan/shipper"
	"github.com/capstan-agent/capstan/spool"
)

// readBytes is how much of the spool a lane reads at once.
const readBytes = 1 << 20

// Engine runs one output: it is the component.Output the agent runs, made
// of the output's encoder and sender.
type Engine struct {
	name   string
	start  shipper.StartAt
	log    *zap.Logger
	opts   Options
	enc    Encoder
	keyer  Keyer
	send   Sender
	stream Streamer
	out    any // send or stream, for the optional interfaces
	stats  *Stats

	// Set by Run before started is closed.
	group   *shipper.Group
	lanes   []*lane
	dl      deadLetter
	report  func(component.State, string)
	work    chan *Request
	started chan struct{}

	free     chan *Request // requests to reuse, their buffers grown
	dlMu     sync.Mutex    // one dead-letter writer at a time
	draining atomic.Bool
	dirty    atomic.Bool // a commit since the last sync

	resolvedN atomic.Uint64 // requests resolved, for tests

	stateMu  sync.Mutex
	failing  int  // requests failing now
	degraded bool // reported Degraded
}

// New makes the engine of an output whose requests are sent by s. It
// opens and starts nothing: Run does.
func New(set component.Settings, opts Options, enc Encoder, s Sender) *Engine {
	e := newEngine(set, opts, enc, s)
	e.send = s
	return e
}

// NewStream makes the engine of an output that writes a stream (Streamer).
func NewStream(set component.Settings, opts Options, enc Encoder, s Streamer) *Engine {
	e := newEngine(set, opts, enc, s)
	e.stream = s
	return e
}

func newEngine(set component.Settings, opts Options, enc Encoder, out any) *Engine {
	log := set.Logger
	if log == nil {
		log = zap.NewNop()
	}
	e := &Engine{name: set.ID.Name, start: shipper.StartAt(set.StartAt), log: log, opts: opts.withDefaults(),
		enc: enc, out: out, stats: newStats(), started: make(chan struct{})}
	e.keyer, _ = enc.(Keyer)
	return e
}

// Stats are the engine's counters.
func (e *Engine) Stats() *Stats { return e.stats }

// Metrics reports the engine's counters, and the output's own, in the
// output vocabulary.
func (e *Engine) Metrics() []component.Metric {
	m := e.stats.metrics()
	if src, ok := e.out.(component.MetricSource); ok {
		m = append(m, src.Metrics()...)
	}
	return m
}

// Run registers the output's checkpoints, opens what the output holds and
// its dead letter, says Ready, and delivers until ctx ends. Then requests in
// flight get drain_timeout to be answered, what was acknowledged is
// committed and synced, and everything is closed. What was not delivered
// stays in the spool for the next run.
func (e *Engine) Run(ctx context.Context, host component.OutputHost) (err error) {
	g, err := shipper.NewGroup(e.name, host.Checkpoints(), host.Streams(), e.start, e.log)
	if err != nil {
		return err
	}
	if op, ok := e.out.(Opener); ok {
		if err := e.open(ctx, op, host, g); err != nil {
			return err
		}
		defer func() {
			if cerr := op.Close(); cerr != nil && err == nil {
				err = fmt.Errorf("close output %s: %w", e.name, cerr)
			}
		}()
	}
	dl, err := openDeadLetter(e, host)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := dl.close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	e.group, e.dl, e.report = g, dl, host.Report
	// Unbuffered: a lane hands a request over when a sender takes it, and
	// fills the next meanwhile (requests alive: concurrency + one per lane).
	e.work = make(chan *Request, e.opts.Concurrency)
	for _, c := range g.Cursors() {
		e.lanes = append(e.lanes, newLane(e, c))
	}
	// As many requests as can be alive at once without keys are kept for
	// reuse, with their grown buffers: a sync.Pool would drop them at every
	// GC, and growing a request's body again costs more than encoding it.
	e.free = make(chan *Request, 2*e.opts.Concurrency+len(e.lanes)+1)
	close(e.started)
	host.Ready()
	return e.run(ctx)
}

// open lets the output move the offsets it resumes at, and commits them.
func (e *Engine) open(ctx context.Context, op Opener, host component.OutputHost, g *shipper.Group) error {
	resume := map[spool.Key]uint64{}
	for _, c := range g.Cursors() {
		resume[c.Key()] = c.Acked()
	}
	if err := op.Open(ctx, host, resume); err != nil {
		return err
	}
	for _, c := range g.Cursors() {
		if at, ok := resume[c.Key()]; ok && at != c.Acked() {
			e.log.Info("resuming where the output's own state says", zap.Stringer("partition", c.Key()),
				zap.Uint64("checkpoint", c.Acked()), zap.Uint64("resume", at))
			c.Seek(at)
		}
	}
	if _, err := g.CommitNoSync(); err != nil {
		op.Close()
		return err
	}
	return nil
}

func (e *Engine) run(ctx context.Context) error {
	// Sends outlive ctx by drain_timeout, so that what is in flight at a
	// stop can be answered (and committed) rather than sent again later.
	sctx, cancelSends := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelSends()
	var lanes, senders, aux sync.WaitGroup
	laneErrs := make([]error, len(e.lanes))
	for i, l := range e.lanes {
		lanes.Go(func() { laneErrs[i] = l.run(ctx) })
	}
	if e.stream != nil {
		senders.Go(func() { e.runStream(ctx, sctx) })
	} else {
		for range e.opts.Concurrency {
			senders.Go(func() { e.runWorker(ctx, sctx) })
		}
	}
	sent := make(chan struct{})
	aux.Go(func() { e.syncLoop(ctx) })
	aux.Go(func() {
		select {
		case <-sent:
			return
		case <-ctx.Done():
		}
		t := time.NewTimer(e.opts.DrainTimeout)
		defer t.Stop()
		select {
		case <-t.C:
			cancelSends()
		case <-sent:
		}
	})
	lanes.Wait()
	senders.Wait()
	close(sent)
	aux.Wait()

	err := errors.Join(laneErrs...)
	if _, cerr := e.group.CommitNoSync(); cerr != nil {
		err = errors.Join(err, cerr)
	}
	if serr := e.sync(true); serr != nil {
		err = errors.Join(err, serr)
	}
	e.logLeft()
	return err
}

// logLeft says how much of the output's streams is not delivered: it stays
// in the spool for the next run.
func (e *Engine) logLeft() {
	var records uint64
	var bytes int64
	for _, c := range e.group.Cursors() {
		p := c.Partition()
		if next, acked := p.NextOffset(), c.Acked(); next > acked {
			records += next - acked
			bytes += p.BytesFrom(acked)
		}
	}
	if records > 0 {
		e.log.Info("stopped; what is not delivered stays in the spool for the next run",
			zap.Uint64("left_records", records), zap.Int64("left_bytes", bytes))
	}
}

// Drain returns once everything the output's streams held when it was
// called is delivered (or dead-lettered) and committed, or ctx ends.
// Requests waiting for linger are sent at once from now on.
func (e *Engine) Drain(ctx context.Context) error {
	select {
	case <-e.started:
	case <-ctx.Done():
		return ctx.Err()
	}
	e.draining.Store(true)
	for _, l := range e.lanes {
		l.poke()
	}
	return e.group.Drain(ctx)
}

// syncLoop makes commits (and what the output and the dead letter wrote)
// durable every sync interval.
func (e *Engine) syncLoop(ctx context.Context) {
	t := time.NewTicker(e.opts.SyncInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := e.sync(false); err != nil {
				e.log.Error("sync failed; trying again at the next interval", zap.Error(err))
			}
		}
	}
}

// sync makes the output's data durable before the checkpoint that counts
// it: the output (its Syncer), the dead letter, then the checkpoint.
func (e *Engine) sync(final bool) error {
	var err error
	if s, ok := e.out.(Syncer); ok {
		err = s.Sync()
	}
	e.dlMu.Lock()
	derr := e.dl.sync()
	e.dlMu.Unlock()
	if derr != nil {
		err = errors.Join(err, derr)
	}
	if e.dirty.Swap(false) || final {
		if serr := e.group.Sync(); serr != nil {
			e.dirty.Store(true)
			err = errors.Join(err, serr)
		}
	}
	return err
}

// resolved is called once every record of req is delivered or
// dead-lettered: its lane's commit point moves if req was the oldest, and
// the checkpoint is written at once.
func (e *Engine) resolved(req *Request) {
	l := req.lane
	l.mu.Lock()
	point := l.done(req.entry)
	wake := false
	if e.opts.Ordered {
		l.unbusy(req.key, req.entry)
		wake = true
	}
	l.mu.Unlock()
	e.release(req)
	if point > l.cur.Acked() {
		l.cur.Ack(point)
		e.commit()
	}
	if wake {
		l.poke()
	}
	e.resolvedN.Add(1)
}

func (e *Engine) commit() {
	wrote, err := e.group.CommitNoSync()
	if err != nil {
		// The next acknowledgement writes again; the offsets are in memory.
		e.log.Error("checkpoint commit failed", zap.Error(err))
		return
	}
	if wrote {
		e.dirty.Store(true)
	}
}

func (e *Engine) acquire() *Request {
	var req *Request
	select {
	case req = <-e.free:
	default:
		req = &Request{}
	}
	req.reset()
	req.attempt = 0
	return req
}

func (e *Engine) release(req *Request) {
	req.lane = nil
	select {
	case e.free <- req:
	default:
	}
}

// failed marks the start of a request's failing: the first one makes the
// output degraded (the agent shows it, and does not wait for it at
// shutdown).
func (e *Engine) failed(reason string, err error) {
	e.stateMu.Lock()
	defer e.stateMu.Unlock()
	e.failing++
	if !e.degraded {
		e.degraded = true
		msg := reason
		if err != nil {
			msg += ": " + err.Error()
		}
		e.report(component.Degraded, "cannot deliver: "+msg)
	}
}

// recovered ends a request's failing: when none is failing, the output
// runs again.
func (e *Engine) recovered() {
	e.stateMu.Lock()
	defer e.stateMu.Unlock()
	e.failing--
	if e.failing == 0 && e.degraded {
		e.degraded = false
		e.report(component.Running, "")
	}
}
