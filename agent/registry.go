package agent

import (
	"context"
	"fmt"
	"sort"

	"github.com/capstan-agent/capstan/agent/config"
	"github.com/capstan-agent/capstan/spool"
	"go.uber.org/zap"
)

// Component is a running input or output. Run blocks until ctx is cancelled,
// then flushes what it holds, writes its positions or checkpoints and
// returns. A Run that returns while ctx is still alive is restarted (a new
// Component is built) with backoff.
type Component interface {
	Run(ctx context.Context) error
}

// Readier is an optional interface: an input that is not ready (not yet
// listening) keeps /readyz failing.
type Readier interface {
	Ready() bool
}

// Drainer is an optional interface of outputs: Drain returns once the output
// has delivered and committed everything in its streams as of the call, or ctx
// ends. Outputs without it are watched through their checkpoints instead.
type Drainer interface {
	Drain(ctx context.Context) error
}

// MetricSource is an optional interface: the metrics a component reports
// about itself, read at every scrape (see Metric and StatsMetrics).
type MetricSource interface {
	Metrics() []Metric
}

// InputEnv is what an input factory gets.
type InputEnv struct {
	Name   string        // the input's name in the configuration
	Config *config.Input // its whole entry; Config.Settings() is the typed part
	Spool  *spool.Spool  // for PositionsPath(Name) and AgentID()
	Stream *spool.Stream // the stream it writes
	Logger *zap.Logger   // named after the input
}

// OutputEnv is what an output factory gets.
type OutputEnv struct {
	Name    string
	Config  *config.Output
	Spool   *spool.Spool    // for Checkpoints(): the consumer name is Name
	Streams []*spool.Stream // the streams it reads, resolved (all when the config lists none)
	Logger  *zap.Logger
}

// InputFactory builds an input from its configuration. It must not bind
// sockets or open files that another instance of the same input may hold:
// on reload the new instance is built before the old one stops. Do that in Run.
type InputFactory func(env InputEnv) (Component, error)

// OutputFactory builds an output; the same rule as InputFactory applies.
type OutputFactory func(env OutputEnv) (Component, error)

// Registry maps input and output types to their factories. Types of the
// schema without a factory are reported as not available in this build.
type Registry struct {
	inputs  map[string]InputFactory
	outputs map[string]OutputFactory
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{inputs: map[string]InputFactory{}, outputs: map[string]OutputFactory{}}
}

// Input registers the factory of an input type (file, tcp, ...).
func (r *Registry) Input(typ string, f InputFactory) { r.inputs[typ] = f }

// Output registers the factory of an output type (forward, stdout, ...).
func (r *Registry) Output(typ string, f OutputFactory) { r.outputs[typ] = f }

// Available lists the registered input and output types.
func (r *Registry) Available() (inputs, outputs []string) {
	for t := range r.inputs {
		inputs = append(inputs, t)
	}
	for t := range r.outputs {
		outputs = append(outputs, t)
	}
	sort.Strings(inputs)
	sort.Strings(outputs)
	return inputs, outputs
}

// TypedInput adapts a factory that takes the typed settings of its input
// type, e.g. func(env InputEnv, c *config.FileInput) (Component, error).
func TypedInput[C any](f func(env InputEnv, cfg *C) (Component, error)) InputFactory {
	return func(env InputEnv) (Component, error) {
		c, ok := env.Config.Settings().(*C)
		if !ok {
			return nil, fmt.Errorf("input %s: settings are %T, factory wants %T", env.Name, env.Config.Settings(), c)
		}
		return f(env, c)
	}
}

// TypedOutput is TypedInput for outputs.
func TypedOutput[C any](f func(env OutputEnv, cfg *C) (Component, error)) OutputFactory {
	return func(env OutputEnv) (Component, error) {
		c, ok := env.Config.Settings().(*C)
		if !ok {
			return nil, fmt.Errorf("output %s: settings are %T, factory wants %T", env.Name, env.Config.Settings(), c)
		}
		return f(env, c)
	}
}
