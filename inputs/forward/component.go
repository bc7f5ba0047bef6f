package forward

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/capstan-agent/capstan/component"
	"github.com/capstan-agent/capstan/component/conf"
	"github.com/capstan-agent/capstan/component/tlsconf"
	"github.com/capstan-agent/capstan/spool/protocol"
)

// InputConfig is the forward input's YAML: the keys under inputs.NAME with
// type: forward.
type InputConfig struct {
	Listen         []string        `koanf:"listen"`
	Token          string          `koanf:"token"`
	TLS            *tlsconf.Server `koanf:"tls"`
	MaxFrameBytes  conf.Size       `koanf:"max_frame_bytes"`
	WindowBytes    conf.Size       `koanf:"window_bytes"`
	MaxConnections int             `koanf:"max_connections"`
	IdleTimeout    time.Duration   `koanf:"idle_timeout"`
}

// SetDefaults sets the defaults.
func (c *InputConfig) SetDefaults() {
	c.MaxFrameBytes = 65 << 20 // the largest batch (64 MiB) and frame headers
	c.WindowBytes = 64 << 20
	c.MaxConnections = 256
	c.IdleTimeout = time.Minute
}

// Validate checks every key.
func (c *InputConfig) Validate() error {
	var e conf.Errors
	if len(c.Listen) == 0 {
		e.Add("listen", "missing: give at least one host:port to listen on")
	}
	for i, a := range c.Listen {
		e.HostPort(conf.Index("listen", i), a, true)
	}
	e.Unique("listen", c.Listen, "address")
	if len(c.Token) > protocol.MaxTokenLen {
		e.Add("token", "at most %d bytes", protocol.MaxTokenLen)
	}
	if c.TLS != nil {
		e.Merge("tls", c.TLS.Validate())
	}
	e.Range("max_frame_bytes", int64(c.MaxFrameBytes), protocol.MinMaxFrame, 1<<31-1)
	e.Range("window_bytes", int64(c.WindowBytes), 1, 1<<31-1)
	e.Positive("max_connections", int64(c.MaxConnections))
	// The heartbeat announced to clients is a third of idle_timeout.
	if e.Positive("idle_timeout", int64(c.IdleTimeout)) && (c.IdleTimeout/3 < 10*time.Millisecond || c.IdleTimeout/3 > time.Hour) {
		e.Add("idle_timeout", "must be between 30ms and 3h (clients heartbeat every third of it)")
	}
	return e.Err()
}

// Listeners are the addresses the input binds.
func (c *InputConfig) Listeners() []component.Listener {
	out := make([]component.Listener, len(c.Listen))
	for i, a := range c.Listen {
		out[i] = component.Listener{Network: "tcp", Address: a, Path: conf.Index("listen", i)}
	}
	return out
}

// NewFactory makes the factory of the forward input type.
func NewFactory() component.InputFactory {
	return component.NewInputFactory("forward", conf.Defaults[InputConfig], newComponent)
}

// forwardInput is the input as the agent runs it: one listener per address,
// bound when it runs.
type forwardInput struct {
	cfgs []Config
	tls  *tlsconf.Server
	set  component.Settings
	ins  atomic.Pointer[[]*Input]
}

func newComponent(set component.Settings, c *InputConfig) (component.Input, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	f := &forwardInput{tls: c.TLS, set: set}
	for _, a := range c.Listen {
		cfg := Config{Name: set.ID.Name, Address: a, Token: c.Token, MaxFrameBytes: int(c.MaxFrameBytes),
			WindowBytes: int(c.WindowBytes), Heartbeat: c.IdleTimeout / 3, MaxConnections: c.MaxConnections}
		if err := cfg.Validate(); err != nil {
			return nil, err
		}
		f.cfgs = append(f.cfgs, cfg)
	}
	return f, nil
}

// Run loads the TLS files and binds every address (a failure here is a start
// failure), then serves until ctx ends.
func (f *forwardInput) Run(ctx context.Context, host component.InputHost) error {
	var parts []Appender
	for _, p := range host.Partitions() {
		parts = append(parts, p)
	}
	var ins []*Input
	closeAll := func() {
		for _, in := range ins {
			in.Close()
		}
	}
	for i, cfg := range f.cfgs {
		if f.tls != nil {
			tc, err := f.tls.Config()
			if err != nil {
				closeAll()
				return err
			}
			cfg.tlsConfig = tc
		}
		in, err := newInput(cfg, parts, f.set.Logger)
		if err != nil {
			closeAll()
			var e conf.Errors
			e.Add(conf.Index("listen", i), "%v", errors.Unwrap(err))
			return e
		}
		ins = append(ins, in)
	}
	f.ins.Store(&ins)
	host.Ready()
	var wg sync.WaitGroup
	errs := make([]error, len(ins))
	for i, in := range ins {
		wg.Go(func() { errs[i] = in.Run(ctx) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Metrics reports the input's counters in the input vocabulary.
func (f *forwardInput) Metrics() []component.Metric {
	p := f.ins.Load()
	if p == nil {
		return nil
	}
	var conns int64
	var acc, ref, frames, batches, recs, bytes, dups, bad uint64
	for _, in := range *p {
		s := &in.stats
		conns += s.Connections.Load()
		acc += s.Accepted.Load()
		ref += s.Refused.Load()
		frames += s.Frames.Load()
		batches += s.Batches.Load()
		recs += s.Records.Load()
		bytes += s.Bytes.Load()
		dups += s.Duplicates.Load()
		bad += s.BadFrames.Load()
	}
	return []component.Metric{
		component.C("records_total", recs),
		component.C("bytes_total", bytes),
		component.C("batches_total", batches),
		component.C("duplicate_batches_total", dups),
		component.C("frames_total", frames),
		component.G("connections", conns),
		component.C("connections_accepted_total", acc),
		component.L("connections_closed_total", ref, "hello_refused"),
		component.L("errors_total", bad, "bad_frame"),
	}
}

// RecordFields: a forward input's records come from other agents, with any
// field their processors set.
func (c *InputConfig) RecordFields() []string { return []string{"*"} }
