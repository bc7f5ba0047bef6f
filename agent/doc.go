// Package agent wires inputs, the spool and outputs into one running agent:
// it opens the spool, starts outputs then inputs from a Registry of factories,
// supervises them, reloads a changed configuration in place, stops in the
// order that loses nothing, and serves /healthz, /readyz and /metrics.
//
// A component package plugs in with one factory (cmd/capstan/components.go):
//
//	reg.Input("file", agent.TypedInput(func(env agent.InputEnv, c *config.FileInput) (agent.Component, error) {
//		return file.New(file.Config{Include: c.Include /* ... */}, env.Stream, env.Logger)
//	}))
//
// The Component's Run(ctx) runs until ctx ends; optional interfaces add
// readiness (Readier), draining at shutdown (Drainer) and metrics
// (MetricSource, with StatsMetrics for a struct of counters).
package agent
