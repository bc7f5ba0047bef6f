package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/capstan-agent/capstan/agent/config"
	"github.com/capstan-agent/capstan/component"
	"github.com/capstan-agent/capstan/component/conf"
	"github.com/capstan-agent/capstan/shipper/lines"
	"github.com/capstan-agent/capstan/spool/batch"
)

// genConfig configures the test input type "gen": it appends lines
// "<name> <i>" to partition 0 of its stream, count of them (0: until
// stopped, as fast as the spool takes them), then waits to be stopped. With
// listen it binds that address first (a start failure if it cannot).
type genConfig struct {
	Count  int      `koanf:"count"`
	Listen []string `koanf:"listen"`
	Fail   string   `koanf:"fail"` // fail Run before Ready with this error
}

func (c *genConfig) Validate() error {
	var e conf.Errors
	e.NotNegative("count", int64(c.Count))
	return e.Err()
}

func (c *genConfig) Listeners() []component.Listener {
	var out []component.Listener
	for i, a := range c.Listen {
		out = append(out, component.Listener{Network: "tcp", Address: a, Path: conf.Index("listen", i)})
	}
	return out
}

type gen struct {
	cfg      genConfig
	name     string
	events   *events
	sent     *atomic.Int64
	finished chan<- string
}

func (g *gen) Run(ctx context.Context, host component.InputHost) error {
	if g.cfg.Fail != "" {
		return errors.New(g.cfg.Fail)
	}
	for _, a := range g.cfg.Listen {
		ln, err := net.Listen("tcp", a)
		if err != nil {
			return err
		}
		defer ln.Close()
	}
	g.events.add("start input " + g.name)
	defer g.events.add("stop input " + g.name)
	host.Ready()
	p := host.Partitions()[0]
	var b batch.Builder
	h := fnv.New64a()
	h.Write([]byte(g.name))
	producer := h.Sum64()
	seq, _ := p.Sequence(producer)
	for i := int(seq); g.cfg.Count == 0 || i < g.cfg.Count; i++ {
		if ctx.Err() != nil {
			return nil
		}
		b.Reset(producer, nil) // sequence = lines sent: a restart resumes after the last one stored
		b.Add(int64(i), fmt.Appendf(nil, "%s %d", g.name, i))
		b.SetSequence(uint64(i + 1))
		if _, err := p.Append(ctx, b.Bytes()); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		g.sent.Add(1)
	}
	g.finished <- g.name
	<-ctx.Done()
	return nil
}

type events struct {
	mu  sync.Mutex
	log []string
}

func (e *events) add(s string) { e.mu.Lock(); e.log = append(e.log, s); e.mu.Unlock() }
func (e *events) reset()       { e.mu.Lock(); e.log = nil; e.mu.Unlock() }
func (e *events) list() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.log...)
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// recordingOutput wraps the stdout output to log its start and stop.
type recordingOutput struct {
	component.Output
	name   string
	events *events
}

func (r recordingOutput) Run(ctx context.Context, host component.OutputHost) error {
	r.events.add("start output " + r.name)
	defer r.events.add("stop output " + r.name)
	return r.Output.Run(ctx, host)
}

func (r recordingOutput) Metrics() []component.Metric {
	return r.Output.(component.MetricSource).Metrics()
}

type harness struct {
	reg    *component.Registry
	out    syncBuffer
	events events
	sent   atomic.Int64
	// finished gets an input's name once it has sent all its lines.
	finished  chan string
	failBuild atomic.Bool
}

// wait waits until the named inputs have sent all their lines.
func (h *harness) wait(t *testing.T, names ...string) {
	t.Helper()
	for range names {
		select {
		case <-h.finished:
		case <-time.After(20 * time.Second):
			t.Fatalf("inputs %v did not finish sending within 20s", names)
		}
	}
}

func newHarness() *harness {
	h := &harness{finished: make(chan string, 16)}
	h.reg = component.NewRegistry().Input(component.NewInputFactory("gen", func() *genConfig { return &genConfig{} },
		func(set component.Settings, c *genConfig) (component.Input, error) {
			if h.failBuild.Load() {
				return nil, errors.New("cannot build")
			}
			h.events.add("build input " + set.ID.Name)
			return &gen{cfg: *c, name: set.ID.Name, events: &h.events, sent: &h.sent, finished: h.finished}, nil
		}))
	stdout := lines.StdoutFactory(&h.out)
	h.reg.Output(component.NewOutputFactory("stdout", func() *lines.StdoutConfig {
		return stdout.NewConfig().(*lines.StdoutConfig)
	}, func(set component.Settings, c *lines.StdoutConfig) (component.Output, error) {
		h.events.add("build output " + set.ID.Name)
		o, err := stdout.NewOutput(set, c)
		if err != nil {
			return nil, err
		}
		return recordingOutput{Output: o, name: set.ID.Name, events: &h.events}, nil
	}))
	return h
}

func (h *harness) load(t *testing.T, dir, yaml string) *config.Config {
	t.Helper()
	l, err := config.Load(config.Options{YAML: []byte("data_dir: " + dir + "\n" + yaml), Environ: []string{}, Registry: h.reg})
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	h.events.reset() // Load built every component once, to check it
	return l.Config
}

const basic = `
http: {address: "127.0.0.1:0"}
inputs:
  a: {type: gen, count: 100}
outputs:
  out: {type: stdout}
`

// withInput adds an input line to basic's inputs.
func withInput(line string) string {
	return strings.Replace(basic, "  a: {type: gen, count: 100}\n", "  a: {type: gen, count: 100}\n  "+line+"\n", 1)
}

// withOutput adds an output line to basic's outputs.
func withOutput(line string) string { return basic + "  " + line + "\n" }

// nothing is the Config of test types without keys.
type nothing struct{}

func (*nothing) Validate() error { return nil }

func countLines(s string) map[string]int {
	m := map[string]int{}
	for _, l := range strings.Split(strings.TrimSuffix(s, "\n"), "\n") {
		if l != "" {
			m[l]++
		}
	}
	return m
}

func checkExactlyOnce(t *testing.T, got string, want ...string) {
	t.Helper()
	c := countLines(got)
	for _, w := range want {
		if c[w] != 1 {
			t.Errorf("line %q printed %d times", w, c[w])
		}
		delete(c, w)
	}
	if len(c) > 0 {
		t.Errorf("unexpected lines: %v", c)
	}
}

func seq(name string, from, to int) []string {
	var s []string
	for i := from; i < to; i++ {
		s = append(s, fmt.Sprintf("%s %d", name, i))
	}
	return s
}

func (a *Agent) outputComponent(name string) component.Output {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.outputs[name].component().(component.Output)
}

// TestStartStop: outputs start before inputs, inputs stop before outputs,
// the outputs drain within the grace period, and no goroutine is left.
func TestStartStop(t *testing.T) {
	defer goleak.VerifyNone(t)
	h := newHarness()
	a := New(h.load(t, t.TempDir(), basic), Options{Registry: h.reg})
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	h.wait(t, "a")
	if !a.Ready() {
		_, report := a.readiness()
		t.Errorf("not ready after start:\n%s", report)
	}
	if err := a.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := a.Stop(context.Background()); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	checkExactlyOnce(t, h.out.String(), seq("a", 0, 100)...)
	var ev []string
	for _, e := range h.events.list() {
		if !strings.HasPrefix(e, "start ") { // Run bodies start in any order
			ev = append(ev, e)
		}
	}
	want := []string{"build output out", "build input a", "stop input a", "stop output out"}
	if strings.Join(ev, ",") != strings.Join(want, ",") {
		t.Errorf("events %v, want %v", ev, want)
	}
}

// TestRestartResumes: a second agent on the same data dir prints only what
// is new: checkpoints were written at stop.
func TestRestartResumes(t *testing.T) {
	dir := t.TempDir()
	h := newHarness()
	for i := range 2 {
		a := New(h.load(t, dir, strings.Replace(basic, "count: 100", fmt.Sprintf("count: %d", 100*(i+1)), 1)), Options{Registry: h.reg})
		if err := a.Start(); err != nil {
			t.Fatal(err)
		}
		h.wait(t, "a")
		if err := a.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	checkExactlyOnce(t, h.out.String(), seq("a", 0, 200)...)
}

func TestReload(t *testing.T) {
	defer goleak.VerifyNone(t)
	dir := t.TempDir()
	h := newHarness()
	a := New(h.load(t, dir, basic), Options{Registry: h.reg})
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	defer a.Stop(context.Background())
	h.wait(t, "a")

	// Unchanged: nothing restarts.
	before := [2]*unit{a.inputs["a"], a.outputs["out"]}
	if err := a.Reload(h.load(t, dir, basic)); err != nil {
		t.Fatal(err)
	}
	if after := [2]*unit{a.inputs["a"], a.outputs["out"]}; after != before {
		t.Fatalf("an unchanged reload restarted something: %v", h.events.list())
	}

	// A constructor that fails refuses the whole reload; the old one keeps
	// going. (Load refuses it first: it builds every component once.)
	bad := h.load(t, dir, strings.Replace(basic, "a: {type: gen, count: 100}", "a: {type: gen, count: 100}\n  b: {type: gen, count: 10}", 1))
	h.failBuild.Store(true)
	err := a.Reload(bad)
	h.failBuild.Store(false)
	if err == nil || !strings.Contains(err.Error(), "reload refused") {
		t.Fatalf("reload with a failing constructor: %v", err)
	}

	// Add an input, change the output: the output restarts from its
	// checkpoint, the unchanged input keeps running.
	changed := `
http: {address: "127.0.0.1:0"}
inputs:
  a: {type: gen, count: 100}
  b: {type: gen, count: 50}
outputs:
  out: {type: stdout, encoding: ndjson}
`
	if err := a.Reload(h.load(t, dir, changed)); err != nil {
		t.Fatal(err)
	}
	h.wait(t, "b")
	ev := strings.Join(h.events.list(), ",")
	if strings.Count(ev, "build output out") != 1 || !strings.Contains(ev, "stop output out") || strings.Contains(ev, "stop input a") {
		t.Errorf("reload events: %s", ev)
	}
	// Remove b again.
	if err := a.Reload(h.load(t, dir, basic)); err != nil {
		t.Fatal(err)
	}
	if err := a.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	// a's lines printed raw before the reload, b's as NDJSON after it.
	var got []string
	for _, l := range strings.Split(strings.TrimSuffix(h.out.String(), "\n"), "\n") {
		if i := strings.Index(l, `"body":"`); i >= 0 {
			l = strings.TrimSuffix(l[i+len(`"body":"`):], `"}`)
		}
		got = append(got, l)
	}
	checkExactlyOnce(t, strings.Join(got, "\n"), append(seq("a", 0, 100), seq("b", 0, 50)...)...)
}

// TestReloadOutputWhileWriting is the reload data-loss case: an input
// appends as fast as it can while the output is changed and reloaded ten
// times; every line is printed exactly once, and the checkpoint never passes
// the end of the spool.
func TestReloadOutputWhileWriting(t *testing.T) {
	defer goleak.VerifyNone(t)
	dir := t.TempDir()
	h := newHarness()
	cfgs := []string{
		"outputs:\n  out: {type: stdout, encoding: raw}\ninputs:\n  a: {type: gen}\n",
		"outputs:\n  out: {type: stdout}\ninputs:\n  a: {type: gen}\n",
	}
	a := New(h.load(t, dir, cfgs[0]), Options{Registry: h.reg})
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 10; i++ {
		n := h.sent.Load()
		for deadline := time.Now().Add(20 * time.Second); h.sent.Load() < n+500; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("reload %d: waited 20s for the input to append 500 lines past %d; it is at %d", i, n, h.sent.Load())
			}
		}
		// Toggle a setting the reload compares; both print raw lines.
		c := h.load(t, dir, cfgs[i%2])
		if err := a.Reload(c); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	n := int(h.sent.Load())
	checkExactlyOnce(t, h.out.String(), seq("a", 0, n)...)
}

// TestStartFailureNamesTheKey: an input that cannot bind fails the start,
// and the error names its key path.
func TestStartFailureNamesTheKey(t *testing.T) {
	defer goleak.VerifyNone(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	h := newHarness()
	a := New(h.load(t, t.TempDir(), withInput("l: {type: gen, count: 1, listen: [\""+ln.Addr().String()+"\"]}")), Options{Registry: h.reg})
	err = a.Start()
	if err == nil || !strings.Contains(err.Error(), "inputs.l: listen tcp "+ln.Addr().String()) {
		t.Fatalf("start with a taken port: %v", err)
	}
	if err := a.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestReloadRefusedWhenAnAddressIsTaken: a reload adding an input on a
// taken port is refused before anything changes.
func TestReloadRefusedWhenAnAddressIsTaken(t *testing.T) {
	defer goleak.VerifyNone(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	dir := t.TempDir()
	h := newHarness()
	a := New(h.load(t, dir, basic), Options{Registry: h.reg})
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	defer a.Stop(context.Background())
	h.wait(t, "a")
	before := a.outputs["out"]
	err = a.Reload(h.load(t, dir, strings.Replace(withInput("l: {type: gen, count: 1, listen: [\""+ln.Addr().String()+"\"]}"),
		"type: stdout", "type: stdout, encoding: ndjson", 1)))
	if err == nil || !strings.Contains(err.Error(), "reload refused, nothing changed: inputs.l.listen[0]") {
		t.Fatalf("reload with a taken port: %v", err)
	}
	if a.outputs["out"] != before || a.inputs["l"] != nil {
		t.Fatal("a refused reload changed the running components")
	}
}

// TestRenameCarriesTheCheckpoint: an output renamed by a reload resumes
// where the old name was; nothing is printed twice.
func TestRenameCarriesTheCheckpoint(t *testing.T) {
	defer goleak.VerifyNone(t)
	dir := t.TempDir()
	h := newHarness()
	a := New(h.load(t, dir, basic), Options{Registry: h.reg})
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	h.wait(t, "a")
	if err := a.outputComponent("out").Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	renamed := strings.Replace(strings.Replace(basic, "out:", "renamed:", 1), "count: 100", "count: 150", 1)
	if err := a.Reload(h.load(t, dir, renamed)); err != nil {
		t.Fatal(err)
	}
	h.wait(t, "a")
	if err := a.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	checkExactlyOnce(t, h.out.String(), seq("a", 0, 150)...)
}

func TestMetricsScrape(t *testing.T) {
	h := newHarness()
	a := New(h.load(t, t.TempDir(), basic), Options{Registry: h.reg})
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	defer a.Stop(context.Background())
	h.wait(t, "a")
	if err := a.outputComponent("out").Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get("http://" + a.HTTPAddr() + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("%s: %s", path, resp.Status)
		}
	}
	if _, err := a.Metrics().Gather(); err != nil {
		t.Errorf("gather: %v", err)
	}
	resp, err := http.Get("http://" + a.HTTPAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`capstan_spool_appended_records_total{partition="0",stream="default"} 100`,
		`capstan_output_records_total{name="out",type="stdout"} 100`,
		`capstan_output_lag_records{output="out",partition="0",stream="default"} 0`,
		`capstan_output_lag_bytes{output="out",partition="0",stream="default"} 0`,
		`capstan_component_up{kind="input",name="a",type="gen"} 1`,
		`capstan_component_state{kind="output",name="out",state="running",type="stdout"} 1`,
		`capstan_component_state{kind="output",name="out",state="degraded",type="stdout"} 0`,
		`capstan_ready 1`,
		`go_goroutines`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// TestUnknownMetricFailsTheGather: a component reporting a name outside
// the vocabulary is caught by the registry's checks.
func TestUnknownMetricFailsTheGather(t *testing.T) {
	h := newHarness()
	h.reg.Output(component.NewOutputFactory("bad", func() *lines.StdoutConfig {
		c := &lines.StdoutConfig{}
		conf.ApplyDefaults(c)
		return c
	},
		func(set component.Settings, c *lines.StdoutConfig) (component.Output, error) {
			o, err := lines.NewStdout(set, c, io.Discard)
			return badMetrics{o}, err
		}))
	a := New(h.load(t, t.TempDir(), withOutput("b: {type: bad}")), Options{Registry: h.reg})
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	defer a.Stop(context.Background())
	if _, err := a.Metrics().Gather(); err == nil || !strings.Contains(err.Error(), "not in the output vocabulary") {
		t.Fatalf("gather: %v", err)
	}
}

type badMetrics struct{ component.Output }

func (badMetrics) Metrics() []component.Metric {
	return []component.Metric{component.C("lines_out_total", 1)}
}

func TestPprofAndHTTPMove(t *testing.T) {
	h := newHarness()
	dir := t.TempDir()
	a := New(h.load(t, dir, basic), Options{Registry: h.reg})
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	defer a.Stop(context.Background())
	h.wait(t, "a")
	old := a.HTTPAddr()
	resp, err := http.Get("http://" + old + "/debug/pprof/")
	if err != nil || resp.StatusCode != 404 {
		t.Fatalf("pprof served without being asked: %v %v", resp, err)
	}
	resp.Body.Close()
	if err := a.Reload(h.load(t, dir, strings.Replace(basic, `http: {address: "127.0.0.1:0"}`, `http: {address: "127.0.0.1:0", pprof: true}`, 1))); err != nil {
		t.Fatal(err)
	}
	if a.HTTPAddr() == old {
		t.Fatal("http server did not move")
	}
	resp, err = http.Get("http://" + a.HTTPAddr() + "/debug/pprof/")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("pprof: %v %v", resp, err)
	}
	resp.Body.Close()
}

// TestStopUnderLoad: an input appends as fast as it can until Stop; every
// line it got into the spool is printed exactly once, in order.
func TestStopUnderLoad(t *testing.T) {
	defer goleak.VerifyNone(t)
	h := newHarness()
	a := New(h.load(t, t.TempDir(), "outputs:\n  out: {type: stdout}\ninputs:\n  a: {type: gen}\n"), Options{Registry: h.reg})
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	// Let the output print some before stopping, so Stop meets both a
	// busy input and an output with a backlog.
	for len(h.out.String()) < 10000 {
		a.outputComponent("out").Drain(context.Background())
	}
	if err := a.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	n := int(h.sent.Load())
	lines := strings.Split(strings.TrimSuffix(h.out.String(), "\n"), "\n")
	if len(lines) != n {
		t.Fatalf("input spooled %d lines, output printed %d", n, len(lines))
	}
	for i, l := range lines {
		if l != fmt.Sprintf("a %d", i) {
			t.Fatalf("line %d is %q", i, l)
		}
	}
}

// flaky fails its first run after Ready; the agent rebuilds it and runs it
// again.
type flaky struct {
	runs  *atomic.Int32
	again chan struct{}
}

func (f *flaky) Run(ctx context.Context, host component.InputHost) error {
	host.Ready()
	if f.runs.Add(1) == 1 {
		return errors.New("boom")
	}
	close(f.again)
	<-ctx.Done()
	return nil
}

func TestFailedComponentIsRestarted(t *testing.T) {
	defer goleak.VerifyNone(t)
	var runs atomic.Int32
	again := make(chan struct{})
	h := newHarness()
	h.reg.Input(component.NewInputFactory("flaky", func() *genConfig { return &genConfig{} },
		func(component.Settings, *genConfig) (component.Input, error) {
			return &flaky{runs: &runs, again: again}, nil
		}))
	a := New(h.load(t, t.TempDir(), withInput("f: {type: flaky}")), Options{Registry: h.reg})
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-again: // the second run began: it was rebuilt after the failure
	case <-time.After(20 * time.Second):
		t.Fatal("the failed input was not run again within 20s")
	}
	if n := a.inputs["f"].restarts.Load(); n != 1 {
		t.Errorf("restarts = %d, want 1", n)
	}
	if err := a.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// stuck is an output that cannot deliver: it reports itself degraded and
// never drains.
type stuck struct{}

func (stuck) Run(ctx context.Context, host component.OutputHost) error {
	host.Ready()
	host.Report(component.Degraded, "cannot deliver: connection refused")
	<-ctx.Done()
	return nil
}
func (stuck) Drain(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }

// TestDegradedOutput: /readyz says which output cannot deliver and why, and
// Stop does not wait shutdown_grace for it; what it did not deliver stays in
// the spool.
func TestDegradedOutput(t *testing.T) {
	defer goleak.VerifyNone(t)
	h := newHarness()
	h.reg.Output(component.NewOutputFactory("stuck", func() *nothing { return &nothing{} },
		func(component.Settings, *nothing) (component.Output, error) { return stuck{}, nil }))
	a := New(h.load(t, t.TempDir(), withOutput("s: {type: stuck}")+"shutdown_grace: 1h\n"), Options{Registry: h.reg})
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	h.wait(t, "a")
	ok, report := a.readiness()
	if ok || !strings.Contains(report, "output s (stuck): degraded: cannot deliver: connection refused") {
		t.Errorf("ready=%v, report:\n%s", ok, report)
	}
	if lag, _ := lagOf(a.spool, a.outputs["s"]); lag != 100 {
		t.Errorf("lag = %d, want 100", lag)
	}
	stopped := make(chan error, 1)
	go func() { stopped <- a.Stop(context.Background()) }()
	select {
	case err := <-stopped:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Stop waited for an output that cannot deliver (shutdown_grace is 1h)")
	}
}

// TestStopHonoursItsContext: Stop returns when its context ends, even if an
// output would take longer.
func TestStopHonoursItsContext(t *testing.T) {
	h := newHarness()
	h.reg.Output(component.NewOutputFactory("slow", func() *nothing { return &nothing{} },
		func(component.Settings, *nothing) (component.Output, error) { return gated{}, nil }))
	a := New(h.load(t, t.TempDir(), withOutput("s: {type: slow}")+"shutdown_grace: 1h\n"), Options{Registry: h.reg})
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	h.wait(t, "a")
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := a.Stop(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Stop = %v, want the context's deadline", err)
	}
}

// TestReadyzWhileStopping: while the agent stops, /readyz says so, and the
// inputs it stopped on purpose are "stopped", not restarting or down.
func TestReadyzWhileStopping(t *testing.T) {
	h := newHarness()
	release := make(chan struct{})
	h.reg.Output(component.NewOutputFactory("gated", func() *nothing { return &nothing{} },
		func(component.Settings, *nothing) (component.Output, error) { return gated{release}, nil }))
	a := New(h.load(t, t.TempDir(), withOutput("s: {type: gated}")+"shutdown_grace: 1h\n"), Options{Registry: h.reg})
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	h.wait(t, "a")
	stopped := make(chan error, 1)
	go func() { stopped <- a.Stop(context.Background()) }()
	// The gated output drains until the test releases it, so the agent
	// stays stopping, with its inputs stopped, until then.
	deadline := time.Now().Add(20 * time.Second)
	var report string
	for {
		var ok bool
		ok, report = a.readiness()
		if strings.Contains(report, "agent: stopping\n") {
			if ok {
				t.Fatalf("ready while stopping:\n%s", report)
			}
			if strings.Contains(report, "input a (gen): stopped\n") {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited 20s for /readyz to show input a stopped; it says:\n%s", report)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if strings.Contains(report, string(component.Restarting)) {
		t.Errorf("/readyz while stopping:\n%s", report)
	}
	close(release)
	select {
	case err := <-stopped:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Stop did not return within 20s of the output's drain")
	}
}

// gated drains until release is closed; without one, it is healthy and
// drains forever: only the context ends its Drain.
type gated struct{ release chan struct{} }

func (gated) Run(ctx context.Context, host component.OutputHost) error {
	host.Ready()
	<-ctx.Done()
	return nil
}

func (g gated) Drain(ctx context.Context) error {
	select {
	case <-g.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
