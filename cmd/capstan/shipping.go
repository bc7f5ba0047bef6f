package main

import (
	"fmt"

	"github.com/capstan-agent/capstan/agent"
	"github.com/capstan-agent/capstan/agent/config"
	fwdin "github.com/capstan-agent/capstan/inputs/forward"
	"github.com/capstan-agent/capstan/shipper"
	fwdout "github.com/capstan-agent/capstan/shipper/forward"
	"github.com/capstan-agent/capstan/shipper/lines"
)

// registerShipping plugs in the forward input and the forward, tcp and file
// outputs (packages inputs/forward, shipper/forward, shipper/lines).
func registerShipping(reg *agent.Registry) {
	reg.Input("forward", agent.TypedInput(func(env agent.InputEnv, c *config.ForwardInput) (agent.Component, error) {
		if len(c.Listen) != 1 {
			return nil, fmt.Errorf("input %s: a forward input listens on exactly one address; declare one input per address", env.Name)
		}
		cfg := fwdin.Config{
			Name: env.Name, Address: c.Listen[0], Token: c.Token,
			MaxFrameBytes: int(c.MaxFrameBytes), WindowBytes: int(c.WindowBytes),
			Heartbeat: c.IdleTimeout.D() / 3, MaxConnections: c.MaxConnections,
		}
		if c.TLS != nil {
			if c.TLS.MinVersion != "" && c.TLS.MinVersion != "1.2" {
				return nil, fmt.Errorf("input %s: tls.min_version %s is not supported by the forward input (it takes TLS 1.2 and later)", env.Name, c.TLS.MinVersion)
			}
			cfg.TLS = fwdin.TLSConfig{CertFile: c.TLS.CertFile, KeyFile: c.TLS.KeyFile, ClientCAFile: c.TLS.ClientCAFile}
		}
		if err := cfg.Validate(); err != nil {
			return nil, fmt.Errorf("input %s: %w", env.Name, err)
		}
		return &bindOnRun[*fwdin.Input]{
			build:   func() (*fwdin.Input, error) { return fwdin.New(cfg, env.Stream, env.Logger) },
			metrics: func(in *fwdin.Input) []agent.Metric { return agent.StatsMetrics(in.Stats()) },
		}, nil
	}))

	reg.Output("forward", agent.TypedOutput(func(env agent.OutputEnv, c *config.ForwardOutput) (agent.Component, error) {
		cfg := fwdout.Config{
			Name: env.Name, Endpoints: c.Endpoints, Token: c.Token,
			StartAt: shipper.StartAt(env.Config.StartAt), FrameBytes: int(c.MaxFrameBytes),
			DialTimeout: c.ConnectTimeout.D(), DrainTimeout: c.DrainTimeout.D(),
			BackoffInitial: c.Backoff.Initial.D(), BackoffMax: c.Backoff.Max.D(),
		}
		if c.Balance == "failover" {
			cfg.Connections = 1 // every partition on the first reachable endpoint
		}
		if c.TLS != nil {
			cfg.TLS = fwdout.TLSConfig{Enabled: true, CAFile: c.TLS.CAFile, CertFile: c.TLS.CertFile,
				KeyFile: c.TLS.KeyFile, ServerName: c.TLS.ServerName, InsecureSkipVerify: c.TLS.InsecureSkipVerify}
		}
		o, err := fwdout.New(cfg, env.Spool, env.Streams, env.Logger)
		if err != nil {
			return nil, err
		}
		return forwardOutput{o}, nil
	}))

	reg.Output("tcp", agent.TypedOutput(func(env agent.OutputEnv, c *config.TCPOutput) (agent.Component, error) {
		o, err := lines.NewTCP(lines.TCPConfig{Common: lineCommon(env, c.LineEncoding),
			Address: c.Address, DialTimeout: c.ConnectTimeout.D()}, env.Spool, env.Streams, env.Logger)
		if err != nil {
			return nil, err
		}
		return lineOutput{o}, nil
	}))

	reg.Output("file", agent.TypedOutput(func(env agent.OutputEnv, c *config.FileOutput) (agent.Component, error) {
		o, err := lines.NewFile(lines.FileConfig{Common: lineCommon(env, c.LineEncoding),
			Path: c.Path, MaxBytes: int64(c.MaxBytes), MaxFiles: c.MaxFiles}, env.Spool, env.Streams, env.Logger)
		if err != nil {
			return nil, err
		}
		return lineOutput{o}, nil
	}))
}

func lineCommon(env agent.OutputEnv, enc config.LineEncoding) lines.Common {
	return lines.Common{Name: env.Name, Format: lines.Format(enc.Encoding), StartAt: shipper.StartAt(env.Config.StartAt)}
}

// forwardOutput exposes the forward output's counters as metrics.
type forwardOutput struct{ *fwdout.Output }

func (o forwardOutput) Metrics() []agent.Metric {
	return agent.StatsMetrics(o.Stats(), "Connected", "InFlight")
}

// lineOutput exposes a line output's counters as metrics.
type lineOutput struct{ *lines.Output }

func (o lineOutput) Metrics() []agent.Metric { return agent.StatsMetrics(o.Stats()) }
