package componenttest

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/capstan-agent/capstan/component"
	"github.com/capstan-agent/capstan/spool"
)

// Host implements component.InputHost and component.OutputHost over a spool.
type Host struct {
	Spool       *spool.Spool
	Name        string                // the component's name: its positions file and checkpoint consumer
	StreamsRead []*spool.Stream       // what an output reads
	Stream      *spool.Stream         // what an input writes
	Inheritance component.Inheritance // what an input's first Run inherits
	DeadLetter  *spool.Stream         // where an output's dead letters go

	mu     sync.Mutex
	ready  chan struct{}
	state  component.State
	reason string
}

// NewHost makes a host for a component named name.
func NewHost(sp *spool.Spool, name string) *Host {
	return &Host{Spool: sp, Name: name, ready: make(chan struct{}), state: component.Starting}
}

// Ready records that the component said it is ready.
func (h *Host) Ready() {
	h.mu.Lock()
	defer h.mu.Unlock()
	select {
	case <-h.ready:
	default:
		close(h.ready)
		h.state = component.Running
	}
}

// Report records the state the component reports.
func (h *Host) Report(s component.State, reason string) {
	h.mu.Lock()
	h.state, h.reason = s, reason
	h.mu.Unlock()
}

// State is what the component reported last.
func (h *Host) State() (component.State, string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.state, h.reason
}

// Readied is closed once the component said Ready.
func (h *Host) Readied() <-chan struct{} { return h.ready }

// AgentID is the spool's agent id.
func (h *Host) AgentID() [16]byte { return h.Spool.AgentID() }

// Partitions are the partitions of Stream.
func (h *Host) Partitions() []component.Partition {
	var out []component.Partition
	for _, p := range h.Stream.Partitions() {
		out = append(out, p)
	}
	return out
}

// PositionsPath is the spool's positions file for Name.
func (h *Host) PositionsPath() string { return h.Spool.PositionsPath(h.Name) }

// Inherited is Inheritance.
func (h *Host) Inherited() component.Inheritance { i := h.Inheritance; h.Inheritance = nil; return i }

// Streams are StreamsRead.
func (h *Host) Streams() []*spool.Stream { return h.StreamsRead }

// Checkpoints are the spool's.
func (h *Host) Checkpoints() component.Checkpointer { return h.Spool.Checkpoints() }

// DeadLetterPartitions are the partitions of DeadLetter.
func (h *Host) DeadLetterPartitions() []component.Partition {
	if h.DeadLetter == nil {
		return nil
	}
	var out []component.Partition
	for _, p := range h.DeadLetter.Partitions() {
		out = append(out, p)
	}
	return out
}

// StatePath is the output's state file in the spool's directory, as the
// agent places it.
func (h *Host) StatePath() string { return filepath.Join(h.Spool.Dir(), "outputs", h.Name) }

// Settings are the settings of a component of kind and type named name,
// logging to t.
func Settings(t testing.TB, kind component.Kind, typ, name string) component.Settings {
	return component.Settings{ID: component.ID{Kind: kind, Type: typ, Name: name}, Logger: zap.NewNop(), StartAt: "oldest"}
}

// Running is a component running in a goroutine.
type Running struct {
	cancel context.CancelFunc
	done   chan error
}

// RunOutput runs o with h until Stop; it waits (up to 10s) for Ready.
func RunOutput(t testing.TB, o component.Output, h *Host) *Running {
	t.Helper()
	return run(t, h, func(ctx context.Context) error { return o.Run(ctx, h) })
}

// RunInput runs in with h until Stop; it waits (up to 10s) for Ready.
func RunInput(t testing.TB, in component.Input, h *Host) *Running {
	t.Helper()
	return run(t, h, func(ctx context.Context) error { return in.Run(ctx, h) })
}

func run(t testing.TB, h *Host, f func(context.Context) error) *Running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &Running{cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- f(ctx) }()
	select {
	case <-h.Readied():
	case err := <-r.done:
		cancel()
		t.Fatalf("component returned before it was ready: %v", err)
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatal("component not ready after 10s")
	}
	t.Cleanup(func() { r.Stop(t) })
	return r
}

// Stop cancels the component and waits (up to 30s) for Run to return; it
// returns Run's error. Safe to call twice.
func (r *Running) Stop(t testing.TB) error {
	t.Helper()
	if r.cancel == nil {
		return nil
	}
	r.cancel()
	r.cancel = nil
	select {
	case err := <-r.done:
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("component did not stop within 30s")
	}
	return nil
}
