package lines

import (
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v4"
	"go.uber.org/zap"

	"github.com/capstan-agent/capstan/component"
	"github.com/capstan-agent/capstan/shipper"
)

// sink is where lines go. write is called with whole lines, one caller at a
// time; it succeeds or fails whole (the output retries the same lines). It
// calls delivered once the lines are safe: at once for a file or a pipe, once
// the peer's TCP stack acknowledged them for tcp. A sink that lost lines it
// had taken (a broken connection) calls lost, and every partition starts
// again from what was delivered.
type sink interface {
	write(ctx context.Context, b []byte, delivered func()) error
	sync() error // make written lines durable (and delivered) before their offsets are committed
	close() error
}

// Stats are an output's counters.
type Stats struct {
	Lines  atomic.Uint64
	Bytes  atomic.Uint64
	Errors atomic.Uint64 // failed writes (retried)
}

// Output ships records of some streams as lines to one sink.
type Output struct {
	kind    string
	name    string
	format  Format
	startAt shipper.StartAt
	newSink func() (sink, error) // opens nothing: Run opens the sink
	log     *zap.Logger
	stats   Stats

	group   *shipper.Group // made by Run
	started chan struct{}  // closed once group is set
	sink    sink
	mu      sync.Mutex // one write at a time

	genMu     sync.Mutex
	gen       uint64             // bumped when the sink lost lines
	genCtx    context.Context    // ends when gen is bumped
	genCancel context.CancelFunc // of genCtx
}

// lost is called by the sink when lines it took are gone: every partition
// rewinds to its delivered offset.
func (o *Output) lost() {
	o.genMu.Lock()
	o.gen++
	o.genCancel()
	o.genCtx, o.genCancel = context.WithCancel(context.Background())
	o.genMu.Unlock()
}

func (o *Output) generation() (uint64, context.Context) {
	o.genMu.Lock()
	defer o.genMu.Unlock()
	return o.gen, o.genCtx
}

// readBytes is how much of the spool a partition reads at once.
const readBytes = 1 << 20

func newOutput(kind string, set component.Settings, format Format, newSink func() (sink, error)) *Output {
	log := set.Logger
	if log == nil {
		log = zap.NewNop()
	}
	if format == "" {
		format = Raw
	}
	o := &Output{kind: kind, name: set.ID.Name, format: format, startAt: shipper.StartAt(set.StartAt),
		newSink: newSink, log: log, started: make(chan struct{})}
	o.genCtx, o.genCancel = context.WithCancel(context.Background())
	return o
}

// Stats are the output's counters.
func (o *Output) Stats() *Stats { return &o.stats }

// Run registers the output's checkpoints, opens the sink, and writes lines
// until ctx ends, then syncs the sink, commits what was written and closes
// the sink.
func (o *Output) Run(ctx context.Context, host component.OutputHost) error {
	g, err := shipper.NewGroup(o.name, host.Checkpoints(), host.Streams(), o.startAt, o.log)
	if err != nil {
		return err
	}
	s, err := o.newSink()
	if err != nil {
		return err
	}
	if t, ok := s.(*tcpSink); ok {
		t.lost = o.lost
	}
	o.group, o.sink = g, s
	close(o.started)
	host.Ready()
	var wg sync.WaitGroup
	for _, c := range o.group.Cursors() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			o.ship(ctx, c)
		}()
	}
	t := time.NewTicker(shipper.CommitInterval)
	defer t.Stop()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for stop := false; !stop; {
		select {
		case <-t.C:
		case <-done:
			stop = true
		}
		if err := o.commit(); err != nil {
			o.log.Error("checkpoint commit failed", zap.Error(err))
		}
	}
	err = o.commit()
	if cerr := o.sink.close(); err == nil {
		err = cerr
	}
	return err
}

// Drain waits until what the output's streams held is written and committed.
func (o *Output) Drain(ctx context.Context) error {
	select {
	case <-o.started:
	case <-ctx.Done():
		return ctx.Err()
	}
	if err := o.group.Drain(ctx); err != nil {
		return err
	}
	return o.commit()
}

// Metrics reports the output's counters in the output vocabulary.
func (o *Output) Metrics() []component.Metric {
	return []component.Metric{
		component.C("records_total", o.stats.Lines.Load()),
		component.C("bytes_total", o.stats.Bytes.Load()),
		component.L("failures_total", o.stats.Errors.Load(), "write"),
	}
}

// commit makes written lines durable, then commits their offsets.
func (o *Output) commit() error {
	o.mu.Lock()
	err := o.sink.sync()
	o.mu.Unlock()
	if err != nil {
		return fmt.Errorf("sync %s output: %w", o.kind, err)
	}
	return o.group.Commit()
}

// ship writes one partition's records, in order, retrying a failed write
// forever with backoff.
func (o *Output) ship(ctx context.Context, c *shipper.Cursor) {
	enc := encoder{format: o.format}
	var raw []byte
	bo := backoff.NewExponentialBackOff(backoff.WithMaxInterval(5*time.Second), backoff.WithMaxElapsedTime(0))
	var myGen uint64
	for {
		gen, genCtx := o.generation()
		if gen != myGen {
			c.Rewind()
			myGen = gen
		}
		nctx, stop := mergeCancel(ctx, genCtx)
		rg, err := c.Next(nctx, readBytes)
		stop()
		if err != nil {
			if ctx.Err() != nil || genCtx.Err() == nil {
				return // ctx ended (or the spool closed)
			}
			continue // lines were lost: rewind
		}
		raw = grow(raw, int(rg.Len))
		if _, err := rg.File.ReadAt(raw, rg.Pos); err != nil && err != io.EOF {
			// A segment deleted under us (drop_oldest): start again from the
			// last written offset; the reader reports the gap.
			o.log.Error("read spool", zap.Stringer("partition", c.Key()), zap.Error(err))
			c.Rewind()
			select {
			case <-time.After(bo.NextBackOff()):
			case <-ctx.Done():
				return
			}
			continue
		}
		enc.buf = enc.buf[:0]
		n, err := enc.appendBatches(raw, c.Acked())
		if err != nil {
			// The spool checked these bytes' headers; a record section that
			// does not decode is damage: say so and go past it.
			o.log.Error("undecodable batch skipped", zap.Stringer("partition", c.Key()),
				zap.Uint64("first", rg.First), zap.Uint64("next", rg.Next), zap.Error(err))
		}
		for {
			o.mu.Lock()
			next := rg.Next
			err = o.sink.write(ctx, enc.buf, func() { c.Ack(next) })
			o.mu.Unlock()
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				return
			}
			o.stats.Errors.Add(1)
			wait := bo.NextBackOff()
			o.log.Warn("write failed; retrying", zap.Error(err), zap.Duration("retry_in", wait))
			select {
			case <-time.After(wait):
			case <-ctx.Done():
				return
			}
		}
		bo.Reset()
		o.stats.Lines.Add(uint64(n))
		o.stats.Bytes.Add(uint64(len(enc.buf)))
	}
}

// mergeCancel returns a context that ends when a or b does.
func mergeCancel(a, b context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancel(a)
	stop := context.AfterFunc(b, cancel)
	return ctx, func() { stop(); cancel() }
}

func grow(b []byte, n int) []byte {
	if cap(b) < n {
		return make([]byte, n)
	}
	return b[:n]
}
