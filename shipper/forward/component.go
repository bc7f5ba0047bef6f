package forward

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/capstan-agent/capstan/component"
	"github.com/capstan-agent/capstan/component/conf"
	"github.com/capstan-agent/capstan/component/tlsconf"
	"github.com/capstan-agent/capstan/shipper"
	"github.com/capstan-agent/capstan/spool/protocol"
)

// OutputConfig is the forward output's YAML: the keys under outputs.NAME
// with type: forward.
type OutputConfig struct {
	Endpoints      []string        `koanf:"endpoints"`
	Balance        string          `koanf:"balance" enum:"failover,partition"`
	Token          string          `koanf:"token"`
	TLS            *tlsconf.Client `koanf:"tls"`
	MaxFrameBytes  conf.Size       `koanf:"max_frame_bytes"`
	ConnectTimeout time.Duration   `koanf:"connect_timeout"`
	DrainTimeout   time.Duration   `koanf:"drain_timeout"`
	Backoff        Backoff         `koanf:"backoff"`
}

// Backoff paces reconnects: the first wait is Initial, then longer with
// jitter, up to Max; they go on forever.
type Backoff struct {
	Initial time.Duration `koanf:"initial"`
	Max     time.Duration `koanf:"max"`
}

// SetDefaults sets the defaults.
func (b *Backoff) SetDefaults() { b.Initial, b.Max = DefaultBackoffInitial, DefaultBackoffMax }

// SetDefaults sets the defaults.
func (c *OutputConfig) SetDefaults() {
	c.Balance = "failover"
	c.MaxFrameBytes = DefaultFrameBytes
	c.ConnectTimeout = DefaultDialTimeout
	c.DrainTimeout = DefaultDrainTimeout
}

// Validate checks every key.
func (c *OutputConfig) Validate() error {
	var e conf.Errors
	if len(c.Endpoints) == 0 {
		e.Add("endpoints", "missing: give at least one host:port of a capstan peer")
	}
	for i, ep := range c.Endpoints {
		e.HostPort(conf.Index("endpoints", i), ep, false)
	}
	e.Unique("endpoints", c.Endpoints, "endpoint")
	e.OneOf("balance", c.Balance, "failover", "partition")
	if len(c.Token) > protocol.MaxTokenLen {
		e.Add("token", "at most %d bytes", protocol.MaxTokenLen)
	}
	if c.TLS != nil {
		e.Merge("tls", c.TLS.Validate())
	}
	e.Range("max_frame_bytes", int64(c.MaxFrameBytes), 4<<10, 64<<20)
	e.Positive("connect_timeout", int64(c.ConnectTimeout))
	e.NotNegative("drain_timeout", int64(c.DrainTimeout))
	if e.Positive("backoff.initial", int64(c.Backoff.Initial)) && c.Backoff.Max < c.Backoff.Initial {
		e.Add("backoff.max", "must be at least backoff.initial (%s)", conf.Duration(c.Backoff.Initial))
	}
	return e.Err()
}

// NewFactory makes the factory of the forward output type.
func NewFactory() component.OutputFactory {
	return component.NewOutputFactory("forward", conf.Defaults[OutputConfig], newComponent)
}

// forwardOutput is the output as the agent runs it: it registers its
// checkpoints and loads TLS when it runs.
type forwardOutput struct {
	cfg Config
	tls *tlsconf.Client
	set component.Settings
	out atomic.Pointer[Output]
	up  chan struct{} // closed once out is set
}

func newComponent(set component.Settings, c *OutputConfig) (component.Output, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	cfg := Config{
		Name: set.ID.Name, Endpoints: c.Endpoints, Token: c.Token, StartAt: shipper.StartAt(set.StartAt),
		FrameBytes: int(c.MaxFrameBytes), DialTimeout: c.ConnectTimeout, DrainTimeout: c.DrainTimeout,
		BackoffInitial: c.Backoff.Initial, BackoffMax: c.Backoff.Max,
	}
	if c.Balance == "failover" {
		cfg.Connections = 1 // every partition on the first reachable endpoint
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &forwardOutput{cfg: cfg, tls: c.TLS, set: set, up: make(chan struct{})}, nil
}

// Run loads TLS, registers the checkpoints and ships until ctx ends.
func (f *forwardOutput) Run(ctx context.Context, host component.OutputHost) error {
	cfg := f.cfg
	if f.tls != nil {
		tc, err := f.tls.Config("")
		if err != nil {
			return err
		}
		cfg.tlsConfig = tc
	}
	o, err := newOutput(cfg, host.Checkpoints(), host.AgentID(), host.Streams(), f.set.Logger)
	if err != nil {
		return err
	}
	o.report = host.Report
	f.out.Store(o)
	close(f.up)
	host.Ready()
	return o.Run(ctx)
}

// Drain waits until what the output's streams held is acknowledged.
func (f *forwardOutput) Drain(ctx context.Context) error {
	select {
	case <-f.up:
	case <-ctx.Done():
		return ctx.Err()
	}
	return f.out.Load().group.Drain(ctx)
}

// Metrics reports the output's counters in the output vocabulary.
func (f *forwardOutput) Metrics() []component.Metric {
	o := f.out.Load()
	if o == nil {
		return nil
	}
	s := &o.stats
	return []component.Metric{
		component.C("records_total", s.AckedRecords.Load()),
		component.C("bytes_total", s.AckedBytes.Load()),
		component.C("requests_total", s.Frames.Load()),
		component.G("connections", s.Connected.Load()),
		component.C("reconnects_total", s.Reconnects.Load()),
		component.G("in_flight_bytes", s.InFlight.Load()),
		component.C("damaged_batches_total", s.CorruptBatches.Load()),
	}
}
