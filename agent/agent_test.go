package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/capstan-agent/capstan/agent/config"
	"github.com/capstan-agent/capstan/agent/stdout"
	"github.com/capstan-agent/capstan/spool/batch"
	"go.uber.org/goleak"
)

// gen is a test input: it appends lines "<name> <i>" for i in [from, from+n)
// to partition 0 of its stream, then waits to be stopped.
type gen struct {
	env      InputEnv
	from     int
	n        int
	events   *events
	ready    atomic.Bool
	sent     *atomic.Int64
	finished chan<- string
}

func (g *gen) Ready() bool { return g.ready.Load() }

func (g *gen) Run(ctx context.Context) error {
	g.events.add("start input " + g.env.Name)
	defer g.events.add("stop input " + g.env.Name)
	g.ready.Store(true)
	var b batch.Builder
	if g.n == 0 { // until stopped, as fast as the spool takes it
		for i := g.from; ctx.Err() == nil; i++ {
			b.Reset(0, nil)
			b.Add(int64(i), fmt.Appendf(nil, "%s %d", g.env.Name, i))
			if _, err := g.env.Stream.Partition(0).Append(ctx, b.Bytes()); err != nil {
				break
			}
			g.sent.Add(1)
		}
		return nil
	}
	for i := g.from; i < g.from+g.n; i++ {
		b.Reset(0, nil)
		b.Add(int64(i), fmt.Appendf(nil, "%s %d", g.env.Name, i))
		if _, err := g.env.Stream.Partition(0).Append(ctx, b.Bytes()); err != nil {
			return err
		}
		g.sent.Add(1)
	}
	g.finished <- g.env.Name
	<-ctx.Done()
	return nil
}

type events struct {
	mu  sync.Mutex
	log []string
}

func (e *events) add(s string) { e.mu.Lock(); e.log = append(e.log, s); e.mu.Unlock() }
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
	*stdout.Output
	name   string
	events *events
}

func (r recordingOutput) Run(ctx context.Context) error {
	r.events.add("start output " + r.name)
	defer r.events.add("stop output " + r.name)
	return r.Output.Run(ctx)
}

func (r recordingOutput) Metrics() []Metric { return StatsMetrics(r.Stats()) }

type harness struct {
	reg    *Registry
	out    syncBuffer
	events events
	sent   atomic.Int64
	// finished gets an input's name once it has sent all its lines.
	finished  chan string
	failBuild atomic.Bool
}

// wait waits until the named inputs have sent all their lines.
func (h *harness) wait(names ...string) {
	for range names {
		<-h.finished
	}
}

func newHarness() *harness {
	h := &harness{reg: NewRegistry(), finished: make(chan string, 16)}
	// "tcp" stands in for an input type; its first listen address's port
	// says how many lines it sends.
	h.reg.Input("tcp", TypedInput(func(env InputEnv, c *config.TCPInput) (Component, error) {
		if h.failBuild.Load() {
			return nil, errors.New("cannot build")
		}
		var n int
		fmt.Sscanf(c.Listen[0][strings.LastIndexByte(c.Listen[0], ':')+1:], "%d", &n)
		h.events.add("build input " + env.Name)
		from := 0
		if p := env.Stream.Partition(0); p != nil {
			from = int(p.NextOffset())
		}
		return &gen{env: env, from: from, n: n, events: &h.events, sent: &h.sent, finished: h.finished}, nil
	}))
	h.reg.Output("stdout", TypedOutput(func(env OutputEnv, c *config.StdoutOutput) (Component, error) {
		h.events.add("build output " + env.Name)
		o, err := stdout.New(env.Name, env.Spool, env.Streams, stdout.Config{
			Encoding: c.Encoding, StartAt: env.Config.StartAt, CommitInterval: c.CommitInterval.D(),
		}, &h.out, env.Logger)
		if err != nil {
			return nil, err
		}
		return recordingOutput{Output: o, name: env.Name, events: &h.events}, nil
	}))
	return h
}

func load(t *testing.T, dir, yaml string) *config.Config {
	t.Helper()
	cfg, err := config.Load(config.Options{YAML: []byte("data_dir: " + dir + "\n" + yaml), Environ: []string{}})
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	return cfg
}

const basic = `
http: {address: "127.0.0.1:0"}
outputs:
  out: {type: stdout}
inputs:
  a: {type: tcp, listen: ["127.0.0.1:100"]}
`

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

// TestStartStop: outputs start before inputs, inputs stop before outputs,
// the outputs drain within the grace period, and no goroutine is left.
func TestStartStop(t *testing.T) {
	defer goleak.VerifyNone(t)
	h := newHarness()
	a := New(load(t, t.TempDir(), basic), Options{Registry: h.reg})
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	h.wait("a")
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
	for range 2 {
		a := New(load(t, dir, basic), Options{Registry: h.reg})
		if err := a.Start(); err != nil {
			t.Fatal(err)
		}
		h.wait("a")
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
	a := New(load(t, dir, basic), Options{Registry: h.reg})
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	defer a.Stop(context.Background())
	h.wait("a")

	// Unchanged: nothing restarts.
	before := [2]*unit{a.inputs["a"], a.outputs["out"]}
	if err := a.Reload(load(t, dir, basic)); err != nil {
		t.Fatal(err)
	}
	if after := [2]*unit{a.inputs["a"], a.outputs["out"]}; after != before {
		t.Fatalf("an unchanged reload restarted something: %v", h.events.list())
	}

	// A factory that fails refuses the whole reload; the old one keeps going.
	h.failBuild.Store(true)
	err := a.Reload(load(t, dir, basic+"  # changed\n"+`  b: {type: tcp, listen: ["127.0.0.1:10"]}`+"\n"))
	h.failBuild.Store(false)
	if err == nil || !strings.Contains(err.Error(), "reload refused") {
		t.Fatalf("reload with a failing factory: %v", err)
	}

	// Add an input, change the output: the output restarts from its
	// checkpoint, the unchanged input keeps running.
	changed := `
http: {address: "127.0.0.1:0"}
inputs:
  a: {type: tcp, listen: ["127.0.0.1:100"]}
  b: {type: tcp, listen: ["127.0.0.1:50"]}
outputs:
  out: {type: stdout, commit_interval: 2s}
`
	if err := a.Reload(load(t, dir, changed)); err != nil {
		t.Fatal(err)
	}
	h.wait("b")
	ev := strings.Join(h.events.list(), ",")
	if strings.Count(ev, "build output out") != 2 || !strings.Contains(ev, "stop output out") || strings.Contains(ev, "stop input a") {
		t.Errorf("reload events: %s", ev)
	}
	// Remove b again.
	if err := a.Reload(load(t, dir, basic)); err != nil {
		t.Fatal(err)
	}
	if err := a.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	// b's lines follow a's in the one partition: offsets 100..149.
	checkExactlyOnce(t, h.out.String(), append(seq("a", 0, 100), seq("b", 100, 150)...)...)
}

func TestUnavailableTypeIsReported(t *testing.T) {
	h := newHarness()
	a := New(load(t, t.TempDir(), basic+"  files: {type: file, include: [/nonexistent/*.log]}\n"), Options{Registry: h.reg})
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	defer a.Stop(context.Background())
	h.wait("a")
	ok, report := a.readiness()
	if !ok || !strings.Contains(report, "input files (file): not available in this build") {
		t.Errorf("ready=%v report:\n%s", ok, report)
	}
}

func TestMetricsScrape(t *testing.T) {
	h := newHarness()
	a := New(load(t, t.TempDir(), basic), Options{Registry: h.reg})
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	defer a.Stop(context.Background())
	h.wait("a")
	// Wait until the output has delivered everything, through its Drainer.
	a.mu.Lock()
	d := a.outputs["out"].component().(recordingOutput)
	a.mu.Unlock()
	if err := d.Drain(context.Background()); err != nil {
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
	resp, err := http.Get("http://" + a.HTTPAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`capstan_spool_appended_records_total{partition="0",stream="default"} 100`,
		`capstan_output_records_out_total{output="out",type="stdout"} 100`,
		`capstan_output_lag_records{output="out",partition="0",stream="default"} 0`,
		`capstan_output_lag_bytes{output="out",partition="0",stream="default"} 0`,
		`capstan_component_up{kind="input",name="a",type="tcp"} 1`,
		`capstan_ready 1`,
		`go_goroutines`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

func TestStatsMetrics(t *testing.T) {
	type stats struct {
		RecordsIn   atomic.Uint64
		UDPDrops    uint64
		Connections atomic.Int64
		name        string
		Label       string
	}
	var s stats
	s.RecordsIn.Store(3)
	s.UDPDrops = 2
	s.Connections.Store(5)
	got := StatsMetrics(&s, "Connections")
	want := []Metric{{Name: "records_in_total", Value: 3}, {Name: "udp_drops_total", Value: 2}, {Name: "connections", Value: 5, Gauge: true}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("StatsMetrics = %v, want %v", got, want)
	}
}

func TestPprofAndHTTPMove(t *testing.T) {
	h := newHarness()
	dir := t.TempDir()
	a := New(load(t, dir, basic), Options{Registry: h.reg})
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	defer a.Stop(context.Background())
	h.wait("a")
	old := a.HTTPAddr()
	resp, err := http.Get("http://" + old + "/debug/pprof/")
	if err != nil || resp.StatusCode != 404 {
		t.Fatalf("pprof served without being asked: %v %v", resp, err)
	}
	resp.Body.Close()
	if err := a.Reload(load(t, dir, strings.Replace(basic, `http: {address: "127.0.0.1:0"}`, `http: {address: "127.0.0.1:0", pprof: true}`, 1))); err != nil {
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

// TestStopUnderLoad: an input appends as fast as it can until SIGTERM's
// Stop; every line it got into the spool is printed exactly once, in order.
func TestStopUnderLoad(t *testing.T) {
	defer goleak.VerifyNone(t)
	h := newHarness()
	cfg := load(t, t.TempDir(), `
outputs:
  out: {type: stdout}
inputs:
  a: {type: tcp, listen: ["127.0.0.1:0"]}
`)
	a := New(cfg, Options{Registry: h.reg})
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	// Let the output print some before stopping, so Stop meets both a
	// busy input and an output with a backlog.
	for len(h.out.String()) < 10000 {
		a.mu.Lock()
		d := a.outputs["out"].component().(recordingOutput)
		a.mu.Unlock()
		d.Drain(context.Background())
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

// flaky fails its first run; the agent rebuilds it and runs it again.
type flaky struct {
	runs  *atomic.Int32
	again chan struct{}
}

func (f *flaky) Run(ctx context.Context) error {
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
	reg := NewRegistry()
	reg.Input("udp", func(InputEnv) (Component, error) { return &flaky{runs: &runs, again: again}, nil })
	reg.Output("stdout", func(OutputEnv) (Component, error) {
		return &flaky{runs: new(atomic.Int32), again: make(chan struct{})}, nil
	})
	a := New(load(t, t.TempDir(), `
inputs:
  u: {type: udp, listen: ["127.0.0.1:0"]}
outputs:
  o: {type: stdout}
`), Options{Registry: reg})
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	<-again // the second run began: it was rebuilt after the failure
	if n := a.inputs["u"].restarts.Load(); n != 1 {
		t.Errorf("restarts = %d, want 1", n)
	}
	if err := a.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// idle is an output without Drain that never commits anything.
type idle struct{}

func (idle) Run(ctx context.Context) error { <-ctx.Done(); return nil }

// TestGraceBoundsDrain: an output that cannot deliver holds Stop only for
// shutdown_grace; what it did not deliver stays in the spool.
func TestGraceBoundsDrain(t *testing.T) {
	defer goleak.VerifyNone(t)
	h := newHarness()
	h.reg.Output("stdout", func(OutputEnv) (Component, error) { return idle{}, nil })
	a := New(load(t, t.TempDir(), basic+"shutdown_grace: 100ms\n"), Options{Registry: h.reg})
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	h.wait("a")
	lag, err := lagOf(a.spool, a.outputs["out"])
	if err != nil || lag != 100 {
		t.Errorf("lag = %d, %v; want 100", lag, err)
	}
	if err := a.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
}
