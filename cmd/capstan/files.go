package main

import (
	"fmt"

	"github.com/capstan-agent/capstan/agent"
	"github.com/capstan-agent/capstan/agent/config"
	"github.com/capstan-agent/capstan/inputs/file"
)

// registerFiles plugs the file input (package inputs/file) in.
func registerFiles(reg *agent.Registry) {
	reg.Input("file", agent.TypedInput(func(env agent.InputEnv, c *config.FileInput) (agent.Component, error) {
		cfg := file.Config{
			Name: env.Name, Include: c.Include, Exclude: c.Exclude, StartAt: c.StartAt, Format: c.Format,
			MaxLineBytes: int(c.MaxLineBytes), ReadBufferBytes: int(c.ReadBufferSize),
			FingerprintBytes: c.FingerprintBytes, ScanInterval: c.ScanInterval.D(), PollInterval: c.PollInterval.D(),
			MaxOpenFiles: c.MaxOpenFiles, CloseInactive: c.CloseInactive.D(), RotateWait: c.RotateWait.D(),
			ForgetAfter: c.ForgetAfter.D(), PositionsInterval: c.PositionsInterval.D(),
		}
		if m := c.Multiline; m != nil {
			cfg.Multiline = file.MultilineConfig{StartPattern: m.StartPattern, FlushTimeout: m.FlushTimeout.D()}
		}
		if err := cfg.Validate(); err != nil {
			return nil, fmt.Errorf("input %s: %w", env.Name, err)
		}
		in, err := file.New(cfg, file.SpoolTarget(env.Spool, env.Stream, env.Name), env.Logger)
		if err != nil {
			return nil, err
		}
		return fileInput{in}, nil
	}))
}

// fileInput exposes the file input's counters as metrics.
type fileInput struct{ *file.Input }

func (f fileInput) Metrics() []agent.Metric {
	return agent.StatsMetrics(f.Stats(), "FilesTracked", "FilesOpen")
}
