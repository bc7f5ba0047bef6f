package forward

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v4"
	"go.uber.org/zap"

	"github.com/capstan-agent/capstan/component"
	"github.com/capstan-agent/capstan/shipper"
	"github.com/capstan-agent/capstan/spool"
	"github.com/capstan-agent/capstan/spool/protocol"
)

// Stats are the output's counters, safe to read while it runs.
type Stats struct {
	Connected  atomic.Int64  // connections accepted by a peer now
	Frames     atomic.Uint64 // DATA frames sent
	Bytes      atomic.Uint64 // payload bytes sent
	Acked      atomic.Uint64 // DATA frames acknowledged
	AckedBytes atomic.Uint64
	// AckedRecords are records acknowledged by a peer.
	AckedRecords atomic.Uint64
	Sendfile     atomic.Uint64 // frames whose payload went by sendfile
	Reconnects   atomic.Uint64 // sessions that ended in an error
	InFlight     atomic.Int64  // payload bytes sent, not yet acknowledged
	// CorruptBatches are batches of this spool that failed their CRC when
	// checked after a peer refused them: logged, not sent.
	CorruptBatches atomic.Uint64
}

// Output ships the partitions of some streams to forward peers.
type Output struct {
	cfg   Config
	group *shipper.Group
	agent [16]byte
	tls   *tls.Config
	log   *zap.Logger
	stats Stats
	lanes [][]*shipper.Cursor
	// report tells the agent the output's health (nil: nobody listens).
	report func(component.State, string)
}

// Spool is what the output needs of the spool: its checkpoints and its agent
// id; *spool.Spool is one.
type Spool interface {
	Checkpoints() *spool.Checkpoints
	AgentID() [16]byte
}

// New validates cfg, registers the output's checkpoints and opens a cursor
// for every partition of streams. Run ships.
func New(cfg Config, sp Spool, streams []*spool.Stream, log *zap.Logger) (*Output, error) {
	return newOutput(cfg, sp.Checkpoints(), sp.AgentID(), streams, log)
}

func newOutput(cfg Config, cps shipper.Checkpointer, agent [16]byte, streams []*spool.Stream, log *zap.Logger) (*Output, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("forward output %s: %w", cfg.Name, err)
	}
	cfg = cfg.withDefaults()
	if log == nil {
		log = zap.NewNop()
	}
	for _, st := range streams {
		if n := len(st.Name()); n == 0 || n > protocol.MaxStreamLen {
			return nil, fmt.Errorf("forward output %s: stream name %q: want 1..%d bytes", cfg.Name, st.Name(), protocol.MaxStreamLen)
		}
	}
	tc, err := cfg.TLS.tlsConfig()
	if cfg.tlsConfig != nil {
		tc = cfg.tlsConfig
	}
	if err != nil {
		return nil, fmt.Errorf("forward output %s: %w", cfg.Name, err)
	}
	g, err := shipper.NewGroup(cfg.Name, cps, streams, cfg.StartAt, log)
	if err != nil {
		return nil, fmt.Errorf("forward output %s: %w", cfg.Name, err)
	}
	o := &Output{cfg: cfg, group: g, agent: agent, tls: tc, log: log}
	// Load balancing by partition: partition i of the group goes to
	// connection i mod n, always, so its frames stay in order.
	o.lanes = make([][]*shipper.Cursor, min(cfg.Connections, max(1, len(g.Cursors()))))
	for i, c := range g.Cursors() {
		o.lanes[i%len(o.lanes)] = append(o.lanes[i%len(o.lanes)], c)
	}
	return o, nil
}

// lost reports the output degraded while a lane has no connection; a lane
// that connects again reports it running (connected).
func (o *Output) lost(err error) {
	if o.report != nil && err != nil {
		o.report(component.Degraded, "cannot deliver: "+err.Error())
	}
}

func (o *Output) connected() {
	if o.report != nil && o.stats.Connected.Load() == int64(len(o.lanes)) {
		o.report(component.Running, "")
	}
}

// Stats are the output's counters.
func (o *Output) Stats() *Stats { return &o.stats }

// Healthy reports whether every connection is accepted by a peer.
func (o *Output) Healthy() bool { return o.stats.Connected.Load() == int64(len(o.lanes)) }

// Run ships until ctx ends, then waits up to DrainTimeout for frames in
// flight to be acknowledged, commits the acknowledged offsets and returns.
func (o *Output) Run(ctx context.Context) error {
	gctx, stopCommits := context.WithCancel(context.Background())
	commitDone := make(chan error, 1)
	go func() { commitDone <- o.group.Run(gctx) }()

	var wg sync.WaitGroup
	for i, cursors := range o.lanes {
		if len(cursors) == 0 {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			o.runLane(ctx, i, cursors)
		}()
	}
	wg.Wait()
	stopCommits()
	err := <-commitDone
	if cerr := o.group.Commit(); cerr != nil {
		err = cerr
	}
	return err
}

// runLane keeps one connection up, forever: its preferred endpoint first,
// the next ones on failure, with jittered exponential backoff.
func (o *Output) runLane(ctx context.Context, lane int, cursors []*shipper.Cursor) {
	bo := backoff.NewExponentialBackOff(
		backoff.WithInitialInterval(o.cfg.BackoffInitial),
		backoff.WithMaxInterval(o.cfg.BackoffMax),
		backoff.WithMaxElapsedTime(0), // never give up on data
	)
	eps := o.cfg.Endpoints
	verify := false
	for k := 0; ; k++ {
		ep := eps[(lane+k)%len(eps)]
		s := &session{out: o, endpoint: ep, cursors: cursors, verify: verify,
			log: o.log.With(zap.String("endpoint", ep), zap.Int("connection", lane))}
		err := s.run(ctx)
		// A peer that found a bad batch in our bytes: check them, next time.
		var perr *protocol.ErrorFrame
		verify = errors.As(err, &perr) && perr.Code == protocol.CodeBadBatch
		if ctx.Err() != nil {
			return
		}
		o.stats.Reconnects.Add(1)
		o.lost(err)
		if s.progressed {
			bo.Reset()
			k = -1 // back to the preferred endpoint
		}
		wait := bo.NextBackOff()
		s.log.Warn("forward connection failed; retrying", zap.Error(err), zap.Duration("retry_in", wait))
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return
		}
	}
}
