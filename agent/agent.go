package agent

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/capstan-agent/capstan/agent/config"
	"github.com/capstan-agent/capstan/spool"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

// Options are what an Agent needs besides its configuration.
type Options struct {
	Registry *Registry        // factories of the input and output types in this build
	Logger   *zap.Logger      // nil: no logging
	Level    *zap.AtomicLevel // if set, Reload applies log.level to it
}

// Agent is a running pipeline: one spool, its outputs and its inputs.
type Agent struct {
	reg   *Registry
	log   *zap.Logger
	level *zap.AtomicLevel

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

// New makes an agent for cfg; nothing starts until Start.
func New(cfg *config.Config, opts Options) *Agent {
	if opts.Registry == nil {
		opts.Registry = NewRegistry()
	}
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	a := &Agent{
		reg: opts.Registry, log: opts.Logger, level: opts.Level, cfg: cfg,
		streams: map[string]*spool.Stream{}, inputs: map[string]*unit{}, outputs: map[string]*unit{},
	}
	a.view.Store(&view{})
	a.metrics = newMetrics(a)
	return a
}

// Metrics is the agent's own Prometheus registry (no global state).
func (a *Agent) Metrics() *prometheus.Registry { return a.metrics }

// Start opens the spool and its streams, starts the HTTP server, then the
// outputs, then the inputs. If anything fails, what was started is stopped
// again and the error says what failed.
func (a *Agent) Start() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.spool != nil || a.stopped {
		return errors.New("agent already started")
	}
	a.ctx, a.cancel = context.WithCancel(context.Background())
	cfg := a.cfg
	sp, err := spool.Open(cfg.DataDir, spoolOptions(cfg, a.log.Named("spool")))
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
			return fail(err)
		}
	}
	for _, name := range sortedNames(cfg.Outputs) {
		if err := a.startOutput(name, cfg.Outputs[name]); err != nil {
			return fail(err)
		}
	}
	for _, name := range sortedNames(cfg.Inputs) {
		if err := a.startInput(name, cfg.Inputs[name]); err != nil {
			return fail(err)
		}
	}
	a.publish()
	a.log.Info("agent started", zap.String("data_dir", cfg.DataDir),
		zap.Int("inputs", len(a.inputs)), zap.Int("outputs", len(a.outputs)), zap.String("http", a.http.addr()))
	return nil
}

func spoolOptions(cfg *config.Config, log *zap.Logger) spool.Options {
	return spool.Options{
		SegmentBytes:  int64(cfg.Spool.SegmentBytes),
		SegmentAge:    cfg.Spool.SegmentAge.D(),
		IndexInterval: int64(cfg.Spool.IndexInterval),
		Fsync:         spool.FsyncPolicy(cfg.Spool.Fsync),
		FsyncInterval: cfg.Spool.FsyncInterval.D(),
		Logger:        log,
	}
}

// openStreams opens every declared stream and the default one if anything
// uses it. Streams already open keep their options until a restart.
func (a *Agent) openStreams(cfg *config.Config) error {
	want := map[string]config.Stream{}
	for name, st := range cfg.Streams {
		want[name] = st
	}
	if _, ok := want[config.DefaultStream]; !ok && usesDefault(cfg) {
		def := config.Stream{Partitions: 1, WhenFull: "block"}
		want[config.DefaultStream] = def
	}
	for _, name := range sortedNames(want) {
		if _, ok := a.streams[name]; ok {
			continue
		}
		o := want[name]
		st, err := a.spool.Stream(name, spool.StreamOptions{
			Partitions: o.Partitions, MaxBytes: int64(o.MaxBytes), MaxAge: o.MaxAge.D(), WhenFull: spool.WhenFull(o.WhenFull),
		})
		if err != nil {
			return fmt.Errorf("open stream %s: %w", name, err)
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
		for _, s := range out.Streams {
			if s == config.DefaultStream {
				return true
			}
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
	for _, n := range names {
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

func (a *Agent) inputEnv(name string, in *config.Input) InputEnv {
	return InputEnv{Name: name, Config: in, Spool: a.spool, Stream: a.streams[in.Stream],
		Logger: a.log.Named("input").With(zap.String("input", name), zap.String("type", in.Type))}
}

func (a *Agent) outputEnv(name string, out *config.Output) OutputEnv {
	return OutputEnv{Name: name, Config: out, Spool: a.spool, Streams: a.outputStreams(out),
		Logger: a.log.Named("output").With(zap.String("output", name), zap.String("type", out.Type))}
}

// newInput builds an input's unit and its first component, without starting it.
func (a *Agent) newInput(name string, in *config.Input) (*unit, Component, func() (Component, error), error) {
	u := &unit{kind: "input", name: name, typ: in.Type, cfg: in}
	f, ok := a.reg.inputs[in.Type]
	if !ok {
		return u, nil, nil, nil
	}
	u.available = true
	env := a.inputEnv(name, in)
	build := func() (Component, error) { return f(env) }
	c, err := build()
	if err != nil {
		return nil, nil, nil, fmt.Errorf("input %s (%s): %w", name, in.Type, err)
	}
	return u, c, build, nil
}

func (a *Agent) newOutput(name string, out *config.Output) (*unit, Component, func() (Component, error), error) {
	env := a.outputEnv(name, out)
	u := &unit{kind: "output", name: name, typ: out.Type, cfg: out, streams: env.Streams}
	f, ok := a.reg.outputs[out.Type]
	if !ok {
		return u, nil, nil, nil
	}
	u.available = true
	build := func() (Component, error) { return f(env) }
	c, err := build()
	if err != nil {
		return nil, nil, nil, fmt.Errorf("output %s (%s): %w", name, out.Type, err)
	}
	return u, c, build, nil
}

func (a *Agent) startInput(name string, in *config.Input) error {
	u, c, build, err := a.newInput(name, in)
	if err != nil {
		return err
	}
	a.run(u, c, build)
	a.inputs[name] = u
	return nil
}

func (a *Agent) startOutput(name string, out *config.Output) error {
	u, c, build, err := a.newOutput(name, out)
	if err != nil {
		return err
	}
	a.run(u, c, build)
	a.outputs[name] = u
	return nil
}

func (a *Agent) run(u *unit, c Component, build func() (Component, error)) {
	log := a.log.Named(u.kind).With(zap.String(u.kind, u.name), zap.String("type", u.typ))
	if !u.available {
		log.Warn(fmt.Sprintf("%s type %q is not available in this build: %s %q will not run", u.kind, u.typ, u.kind, u.name))
		return
	}
	u.start(a.ctx, c, build, log)
	log.Info(u.kind + " started")
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
// outputs get up to shutdown_grace to deliver what is spooled, then stop and
// write their checkpoints, and the spool is closed. ctx bounds the whole
// stop; Stop is safe to call twice.
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
		wg.Go(u.stop)
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
		wg.Go(u.stop)
	}
	wg.Wait()
	return err
}

// drain waits until the output has delivered everything spooled so far.
func (a *Agent) drain(ctx context.Context, u *unit) {
	if !u.available || u.cancel == nil {
		return
	}
	log := a.log.Named("output").With(zap.String("output", u.name))
	if d, ok := u.component().(Drainer); ok {
		if err := d.Drain(ctx); err != nil {
			log.Warn("not drained within shutdown_grace; the rest is shipped after the restart", zap.Error(err))
		}
		return
	}
	// No Drain: watch its checkpoints, which are files, not something to wait on.
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		lag, err := lagOf(a.spool, u)
		if err == nil && lag == 0 {
			return
		}
		select {
		case <-ctx.Done():
			log.Warn("not drained within shutdown_grace; the rest is shipped after the restart", zap.Uint64("lag_records", lag))
			return
		case <-t.C:
		}
	}
}

// lagOf is the number of records in an output's streams past its checkpoint.
func lagOf(sp *spool.Spool, u *unit) (uint64, error) {
	committed, err := sp.Checkpoints().Load(u.name)
	if err != nil {
		return 0, err
	}
	var lag uint64
	for _, st := range u.streams {
		for _, p := range st.Partitions() {
			next := p.NextOffset()
			c, ok := committed[spool.Key{Stream: st.Name(), Partition: p.ID()}]
			if !ok {
				c = p.OldestOffset()
			}
			if next > c {
				lag += next - c
			}
		}
	}
	return lag, nil
}

func sortedNames[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
