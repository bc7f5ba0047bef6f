package agent

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/capstan-agent/capstan/agent/config"
	"github.com/capstan-agent/capstan/component"
	"github.com/capstan-agent/capstan/component/conf"
	"github.com/capstan-agent/capstan/inputs/process"
	"github.com/capstan-agent/capstan/spool"
)

// Options are what an Agent needs besides its configuration.
type Options struct {
	Registry *component.Registry // factories of the input and output types in this build
	Logger   *zap.Logger         // nil: no logging
	Level    *zap.AtomicLevel    // if set, Reload applies log.level to it
	// StartTimeout bounds how long Start and Reload wait for a component to
	// say it is ready before they go on without it; default 30s.
	StartTimeout time.Duration
}

// Agent is a running pipeline: one spool, its outputs and its inputs.
type Agent struct {
	reg   *component.Registry
	log   *zap.Logger
	level *zap.AtomicLevel
	wait  time.Duration

	mu      sync.Mutex // serialises Start, Reload and Stop
	cfg     *config.Config
	spool   *spool.Spool
	streams map[string]*spool.Stream
	inputs  map[string]*unit
	outputs map[string]*unit
	http    *httpServer
	ctx     context.Context // parent of every unit
	cancel  context.CancelFunc
	stopped bool

	// view is what HTTP handlers and metrics read, replaced (never changed)
	// under mu, so that a scrape never waits for a reload or a stop.
	view    atomic.Pointer[view]
	metrics *prometheus.Registry
}

type view struct {
	spool    *spool.Spool
	streams  []*spool.Stream
	inputs   []*unit
	outputs  []*unit
	stopping bool
}

// New makes an agent for cfg (as config.Load returns it, with the same
// registry); nothing starts until Start.
func New(cfg *config.Config, opts Options) *Agent {
	if opts.Registry == nil {
		opts.Registry = component.NewRegistry()
	}
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = 30 * time.Second
	}
	a := &Agent{
		reg: opts.Registry, log: opts.Logger, level: opts.Level, cfg: cfg, wait: opts.StartTimeout,
		streams: map[string]*spool.Stream{}, inputs: map[string]*unit{}, outputs: map[string]*unit{},
	}
	a.view.Store(&view{})
	a.metrics = newMetrics(a)
	return a
}

// Metrics is the agent's own Prometheus registry (no global state).
func (a *Agent) Metrics() *prometheus.Registry { return a.metrics }

// Start opens the spool and its streams, starts the HTTP server, then the
// outputs, then the inputs, waiting for each to say it is ready. A component
// that fails before it is ready (an address in use, a TLS file that does not
// load) fails the start: what was started is stopped again and the error
// names the component's key path.
func (a *Agent) Start() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.spool != nil || a.stopped {
		return errors.New("agent already started")
	}
	a.ctx, a.cancel = context.WithCancel(context.Background())
	cfg := a.cfg
	sp, err := spool.Open(cfg.DataDir, cfg.Spool.Options(a.log.Named("spool")))
	if err != nil {
		return err
	}
	a.spool = sp
	fail := func(err error) error {
		a.stopUnits(context.Background(), 0)
		a.http.close()
		a.http = nil
		sp.Close()
		a.spool = nil
		a.inputs, a.outputs, a.streams = map[string]*unit{}, map[string]*unit{}, map[string]*spool.Stream{}
		a.cancel()
		return err
	}
	if err := a.openStreams(cfg); err != nil {
		return fail(err)
	}
	if cfg.HTTP.Address != "" {
		if a.http, err = startHTTP(cfg.HTTP, a, a.log.Named("http")); err != nil {
			return fail(fmt.Errorf("http.address: %w", err))
		}
	}
	var outs, ins []pending
	for _, name := range sortedNames(cfg.Outputs) {
		p, err := a.newOutput(cfg, name)
		if err != nil {
			return fail(err)
		}
		outs = append(outs, p)
	}
	for _, name := range sortedNames(cfg.Inputs) {
		p, err := a.newInput(cfg, name)
		if err != nil {
			return fail(err)
		}
		ins = append(ins, p)
	}
	if err := a.startAll(outs, a.outputs); err != nil {
		return fail(err)
	}
	if err := a.startAll(ins, a.inputs); err != nil {
		return fail(err)
	}
	a.publish()
	a.log.Info("agent started", zap.String("data_dir", absPath(cfg.DataDir)),
		zap.Int("inputs", len(a.inputs)), zap.Int("outputs", len(a.outputs)), zap.String("http", a.http.addr()))
	return nil
}

// pending is a unit built and not started, with its first component.
type pending struct {
	u    *unit
	comp any
}

// startAll starts units and waits for each to be ready; the first that
// fails before it is ready is the error (the units stay in into, for the
// caller to stop).
func (a *Agent) startAll(ps []pending, into map[string]*unit) error {
	for _, p := range ps {
		p.u.start(a.ctx, p.comp)
		into[p.u.id.Name] = p.u
		a.log.Debug(string(p.u.id.Kind)+" starting", zap.String("name", p.u.id.Name), zap.String("type", p.u.id.Type))
	}
	ctx, cancel := context.WithTimeout(a.ctx, a.wait)
	defer cancel()
	var errs []error
	for _, p := range ps {
		if err := p.u.waitReady(ctx); err != nil {
			errs = append(errs, startError(p.u, err))
			continue
		}
		if p.u.state().state == component.Starting {
			p.u.log.Warn("not ready yet; going on without waiting", zap.Duration("waited", a.wait))
		} else {
			p.u.log.Info(string(p.u.id.Kind) + " started")
		}
	}
	return errors.Join(errs...)
}

// startError names the component's key path: a component's conf.Errors
// are relative to its section.
func startError(u *unit, err error) error {
	var fe conf.Errors
	if errors.As(err, &fe) {
		var e conf.Errors
		e.Merge(u.path, err)
		return e
	}
	return fmt.Errorf("%s: %w", u.path, err)
}

// openStreams opens every declared stream and the default one if anything
// uses it. Streams already open keep their options until a restart.
func (a *Agent) openStreams(cfg *config.Config) error {
	want := maps.Clone(cfg.Streams)
	if want == nil {
		want = map[string]config.Stream{}
	}
	if _, ok := want[config.DefaultStream]; !ok && usesDefault(cfg) {
		def := config.Stream{}
		def.SetDefaults()
		want[config.DefaultStream] = def
	}
	for _, name := range sortedNames(want) {
		if _, ok := a.streams[name]; ok {
			continue
		}
		st, err := a.spool.Stream(name, cfg.StreamOptions(want[name]))
		if err != nil {
			return fmt.Errorf("streams.%s: %w", name, err)
		}
		a.streams[name] = st
	}
	return nil
}

func usesDefault(cfg *config.Config) bool {
	for _, in := range cfg.Inputs {
		if in.Stream == config.DefaultStream {
			return true
		}
	}
	for _, out := range cfg.Outputs {
		if len(out.Streams) == 0 || slices.Contains(out.Streams, config.DefaultStream) {
			return true
		}
	}
	return false
}

// outputStreams resolves the streams an output reads: those it lists, or all.
func (a *Agent) outputStreams(out *config.Output) []*spool.Stream {
	names := out.Streams
	if len(names) == 0 {
		names = sortedNames(a.streams)
	}
	res := make([]*spool.Stream, 0, len(names))
	for _, n := range slices.Sorted(slices.Values(names)) {
		if st, ok := a.streams[n]; ok {
			res = append(res, st)
		}
	}
	return res
}

func streamNames(sts []*spool.Stream) []string {
	n := make([]string, len(sts))
	for i, st := range sts {
		n[i] = st.Name()
	}
	return n
}

// newInput builds the unit of input name of cfg and its first component,
// without starting it.
func (a *Agent) newInput(cfg *config.Config, name string) (pending, error) {
	in := cfg.Inputs[name]
	f, ok := a.reg.InputFactory(in.Type)
	if !ok {
		return pending{}, fmt.Errorf("inputs.%s.type: input type %q is not in this build", name, in.Type)
	}
	log := a.log.Named("input").With(zap.String("input", name), zap.String("type", in.Type))
	st := a.streams[in.Stream]
	u := &unit{
		id: component.ID{Kind: component.KindInput, Type: in.Type, Name: name}, path: "inputs." + name,
		cfg: in, streams: []*spool.Stream{st}, log: log,
		agentID: a.spool.AgentID(), positions: a.spool.PositionsPath(name),
	}
	chain, err := cfg.Chain(in, config.InputFields(in))
	if err != nil {
		return pending{}, startError(u, err)
	}
	if chain == nil {
		for _, p := range st.Partitions() {
			u.partitions = append(u.partitions, p)
		}
	} else {
		// The input appends to its processors, which append to the streams
		// its records are routed to (one snapshot of the streams: a stream
		// added later is not a route target until the input is rebuilt).
		parts := map[string][]*spool.Partition{}
		for n, s := range a.streams {
			parts[n] = s.Partitions()
		}
		targets := func(stream string, id int) (process.Partition, bool) {
			ps, ok := parts[stream]
			if !ok || len(ps) == 0 {
				return nil, false
			}
			return ps[id%len(ps)], true
		}
		u.chain, u.appendStats = chain, &process.AppendStats{}
		names := sortedNames(parts)
		for _, p := range st.Partitions() {
			u.partitions = append(u.partitions, process.NewAppender(chain, p.ID(), in.Stream, names, targets, u.appendStats))
		}
	}
	set := cfg.InputSettings(name, log)
	u.build = func() (any, error) { return f.NewInput(set, in.Settings) }
	c, err := u.build()
	if err != nil {
		return pending{}, startError(u, err)
	}
	return pending{u, c}, nil
}

// newOutput builds the unit of output name of cfg and its first component.
func (a *Agent) newOutput(cfg *config.Config, name string) (pending, error) {
	out := cfg.Outputs[name]
	f, ok := a.reg.OutputFactory(out.Type)
	if !ok {
		return pending{}, fmt.Errorf("outputs.%s.type: output type %q is not in this build", name, out.Type)
	}
	log := a.log.Named("output").With(zap.String("output", name), zap.String("type", out.Type))
	u := &unit{
		id: component.ID{Kind: component.KindOutput, Type: out.Type, Name: name}, path: "outputs." + name,
		cfg: out, streams: a.outputStreams(out), log: log,
		agentID: a.spool.AgentID(), checkpoints: a.spool.Checkpoints(), statePath: a.statePath(name),
	}
	if dl, ok := out.Settings.(component.DeadLetters); ok && dl.DeadLetterStream() != "" {
		if st, ok := a.streams[dl.DeadLetterStream()]; ok {
			for _, p := range st.Partitions() {
				u.deadLetter = append(u.deadLetter, p)
			}
		}
	}
	set := cfg.OutputSettings(name, log)
	u.build = func() (any, error) { return f.NewOutput(set, out.Settings) }
	c, err := u.build()
	if err != nil {
		return pending{}, startError(u, err)
	}
	return pending{u, c}, nil
}

// statePath is where output name keeps its own state (component.StateHost).
func (a *Agent) statePath(name string) string {
	return filepath.Join(a.spool.Dir(), "outputs", name)
}

// publish replaces the view the HTTP handlers read.
func (a *Agent) publish() {
	v := &view{spool: a.spool, stopping: a.stopped}
	for _, n := range sortedNames(a.streams) {
		v.streams = append(v.streams, a.streams[n])
	}
	for _, n := range sortedNames(a.inputs) {
		v.inputs = append(v.inputs, a.inputs[n])
	}
	for _, n := range sortedNames(a.outputs) {
		v.outputs = append(v.outputs, a.outputs[n])
	}
	a.view.Store(v)
}

// Stop shuts the agent down without losing data: inputs stop first (each
// flushes into the spool and writes its positions), the spool is synced,
// outputs get up to shutdown_grace to deliver what is spooled (an output
// that cannot deliver is not waited for), then stop and commit, and the
// spool is closed. Stop returns when that is done or ctx ends, whichever is
// first; it is safe to call twice.
func (a *Agent) Stop(ctx context.Context) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.stopped || a.spool == nil {
		a.stopped = true
		return nil
	}
	a.stopped = true
	a.publish()
	a.log.Info("stopping: inputs first, then outputs get the grace period to drain",
		zap.Stringer("shutdown_grace", a.cfg.ShutdownGrace.D()))
	err := a.stopUnits(ctx, a.cfg.ShutdownGrace.D())
	if ctx.Err() != nil {
		a.cancel()
		return fmt.Errorf("stop cut short: %w", ctx.Err())
	}
	a.http.close()
	a.http = nil
	if cerr := a.spool.Close(); cerr != nil {
		err = errors.Join(err, fmt.Errorf("close spool: %w", cerr))
	}
	a.cancel()
	a.log.Info("stopped")
	return err
}

// stopUnits stops the inputs, syncs the spool, lets the outputs drain for up
// to grace, and stops them.
func (a *Agent) stopUnits(ctx context.Context, grace time.Duration) error {
	var wg sync.WaitGroup
	for _, u := range a.inputs {
		wg.Go(func() { u.stop(ctx) })
	}
	wg.Wait()
	var err error
	if a.spool != nil {
		if serr := a.spool.Sync(); serr != nil {
			err = fmt.Errorf("sync spool: %w", serr)
		}
	}
	if grace > 0 {
		dctx, cancel := context.WithTimeout(ctx, grace)
		for _, u := range a.outputs {
			wg.Go(func() { a.drain(dctx, u) })
		}
		wg.Wait()
		cancel()
	}
	for _, u := range a.outputs {
		wg.Go(func() { u.stop(ctx) })
	}
	wg.Wait()
	return err
}

// drain waits until the output has delivered everything spooled so far, or
// ctx ends, or the output reports it cannot deliver.
func (a *Agent) drain(ctx context.Context, u *unit) {
	out, ok := u.component().(component.Output)
	if !ok || u.cancel == nil {
		return
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stopWatch := make(chan struct{})
	defer close(stopWatch)
	go func() { // an output that cannot deliver is not waited for
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			if s := u.state(); s.state == component.Degraded || s.state == component.Restarting {
				cancel()
				return
			}
			select {
			case <-stopWatch:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	if err := out.Drain(ctx); err != nil {
		lag, lagBytes := lagOf(a.spool, u)
		reason := "not drained within shutdown_grace"
		if s := u.state(); s.state == component.Degraded || s.state == component.Restarting {
			reason = "cannot deliver (" + s.reason + ")"
		}
		u.log.Warn(reason+"; what is left stays in the spool and is shipped after the restart",
			zap.Uint64("left_records", lag), zap.Uint64("left_bytes", lagBytes))
	}
}

// lagOf is what of an output's streams lies past its checkpoint.
func lagOf(sp *spool.Spool, u *unit) (records, bytes uint64) {
	committed, err := sp.Checkpoints().Load(u.id.Name)
	if err != nil && !errors.Is(err, spool.ErrPreviousCheckpoint) {
		return 0, 0
	}
	for _, st := range u.streams {
		for _, p := range st.Partitions() {
			next := p.NextOffset()
			c, ok := committed[spool.Key{Stream: st.Name(), Partition: p.ID()}]
			if !ok {
				c = p.OldestOffset()
			}
			if next > c {
				records += next - c
				bytes += uint64(p.BytesFrom(c))
			}
		}
	}
	return records, bytes
}

func sortedNames[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }
