package main

import (
	"io"

	"github.com/capstan-agent/capstan/agent"
	"github.com/capstan-agent/capstan/agent/config"
	"github.com/capstan-agent/capstan/agent/stdout"
)

// registry lists the input and output types this build can run; types of the
// schema missing here are reported as "not available in this build". To plug
// in a package, add a factory that maps the YAML settings onto its Config:
//
//	reg.Input("file", agent.TypedInput(func(env agent.InputEnv, c *config.FileInput) (agent.Component, error) {
//		return file.New(file.Config{Include: c.Include, ...}, env.Stream, env.Spool.PositionsPath(env.Name), env.Logger)
//	}))
func registry(out io.Writer) *agent.Registry {
	reg := agent.NewRegistry()
	registerSockets(reg)
	registerShipping(reg)
	registerFiles(reg)
	reg.Output("stdout", agent.TypedOutput(func(env agent.OutputEnv, c *config.StdoutOutput) (agent.Component, error) {
		o, err := stdout.New(env.Name, env.Spool, env.Streams, stdout.Config{
			Encoding:       c.Encoding,
			StartAt:        env.Config.StartAt,
			CommitInterval: c.CommitInterval.D(),
			ReadBytes:      int64(c.ReadBytes),
		}, out, env.Logger)
		if err != nil {
			return nil, err
		}
		return stdoutOutput{o}, nil
	}))
	return reg
}

// stdoutOutput exposes the stdout output's counters as metrics.
type stdoutOutput struct{ *stdout.Output }

func (o stdoutOutput) Metrics() []agent.Metric { return agent.StatsMetrics(o.Stats()) }
