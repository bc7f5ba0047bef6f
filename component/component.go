package component

import (
	"context"
	"fmt"
	"slices"
	"sort"

	"go.uber.org/zap"

	"github.com/capstan-agent/capstan/spool"
	"github.com/capstan-agent/capstan/spool/batch"
)

// Kind is what a component is to the pipeline.
type Kind string

// Kinds.
const (
	KindInput  Kind = "input"
	KindOutput Kind = "output"
)

// ID names a configured component: inputs.NAME or outputs.NAME, of a type.
type ID struct {
	Kind Kind
	Type string
	Name string
}

// Path is the key path of the component's section: inputs.NAME.
func (id ID) Path() string { return string(id.Kind) + "s." + id.Name }

func (id ID) String() string { return fmt.Sprintf("%s %s (%s)", id.Kind, id.Name, id.Type) }

// Config is a component's configuration: plain data whose fields carry koanf
// tags (the YAML keys), made with its defaults by the factory. Validate
// checks everything that can be checked without touching the world
// (ranges, syntax, references, the readability of files it names) and
// returns conf.Errors with key paths relative to the component's section.
type Config interface {
	Validate() error
}

// Settings are what every component is built with besides its Config.
type Settings struct {
	ID     ID
	Logger *zap.Logger // carries the component's kind, name and type: add no such field again
	// Attributes are static source attributes every batch of an input
	// carries (host.name and the input's `attributes`), in key order.
	Attributes []batch.Attr
	// StartAt is where an output starts on a partition it has no
	// checkpoint for: oldest or newest.
	StartAt string
}

// Input reads records from somewhere and appends them to its partitions.
type Input interface {
	// Run acquires what the input holds (binds its listeners, opens its
	// positions), calls host.Ready, reads and appends until ctx ends, then
	// flushes what it holds into the spool, writes its positions, releases
	// everything and returns. An error before Ready is a start failure; an
	// error after it makes the agent rebuild and restart the input with
	// backoff.
	Run(ctx context.Context, host InputHost) error
}

// HandOver is implemented by inputs that can leave their live sockets to
// the next instance when a reload changes their settings, so that a sender
// sees nothing of the reload and nothing it sent is lost or read twice. The
// agent calls Keep before it cancels Run; Run then stops at message
// boundaries, appends what it read, and returns leaving its sockets open;
// Left returns them, and the new instance finds them in
// InputHost.Inherited. What no instance takes is closed (its Close).
type HandOver interface {
	Keep()
	Left() Inheritance
}

// Inheritance is what an input left for the next instance.
type Inheritance interface {
	Close()
}

// Output reads its streams' partitions from its checkpoints and delivers
// records somewhere.
type Output interface {
	// Run registers the output's checkpoints and connects, calls host.Ready,
	// delivers until ctx ends, commits what was acknowledged, releases
	// everything and returns. The agent never runs two instances of one
	// output at once: a reloaded output's new instance starts after the old
	// one returned.
	Run(ctx context.Context, host OutputHost) error
	// Drain returns once everything its streams held when Drain was called
	// is delivered and committed, or ctx ends (then the error says how much
	// was left). The agent calls it at shutdown before cancelling Run.
	Drain(ctx context.Context) error
}

// Host is the agent as a running component sees it.
type Host interface {
	// Ready says the component holds what it needs and serves.
	Ready()
	// Report tells the agent the component's health while it runs:
	// Degraded with a reason (an output that cannot deliver, an input that
	// cannot read) or Running again. /readyz and capstan_component_state
	// show it.
	Report(state State, reason string)
}

// Partition is where an input appends batches: a partition of its stream.
// *spool.Partition is one; the agent may wrap it (processors run there).
type Partition interface {
	ID() int
	Append(ctx context.Context, b []byte) (spool.AppendResult, error)
	// Sequence is the highest sequence stored for a producer, after a crash
	// too: where a source's records got to in the spool.
	Sequence(producer uint64) (uint64, bool)
}

// InputHost is what an input runs with.
type InputHost interface {
	Host
	AgentID() [16]byte
	// Partitions of the stream the input writes, in partition order.
	Partitions() []Partition
	// PositionsPath is the file an input keeps its own positions in.
	PositionsPath() string
	// Inherited is what the previous instance of this input left on a
	// reload (see HandOver), or nil. The input owns it from then on.
	Inherited() Inheritance
}

// Checkpointer stores an output's committed offsets; *spool.Checkpoints is
// one. Commit is durable when it returns; CommitNoSync replaces the file
// without waiting for the disk (a killed process keeps it) and Sync makes
// the last commit durable.
type Checkpointer interface {
	Register(consumer string) (map[spool.Key]uint64, error)
	Commit(consumer string, offsets map[spool.Key]uint64) error
	CommitNoSync(consumer string, offsets map[spool.Key]uint64) error
	Sync(consumer string) error
}

// OutputHost is what an output runs with.
type OutputHost interface {
	Host
	AgentID() [16]byte
	// Streams the output reads, resolved, in name order.
	Streams() []*spool.Stream
	// Checkpoints stores the output's offsets; its consumer name is the
	// output's name.
	Checkpoints() Checkpointer
}

// Listener is an address a component binds, so that the agent can find two
// components on one address and prove a reload's new addresses bindable
// before it changes anything.
type Listener struct {
	Network string // tcp, udp, unix (stream) or unixgram
	Address string // host:port, or a socket path
	Path    string // key path, relative to the component: listen[0]
}

// Listeners is implemented by the Config of a component that binds.
type Listeners interface {
	Listeners() []Listener
}

// RecordFields is implemented by the Config of an input that says which
// record attributes it sets itself (syslog's severity, the container
// runtime's stream), so that processors that read a field no step sets are
// refused at validate. "x*" stands for every name starting with x, "*" for
// any name.
type RecordFields interface {
	RecordFields() []string
}

// Files is implemented by Configs that read or write paths the agent can
// check against each other (an output writing into its own input's globs).
type Files interface {
	// Reads are globs the component reads; Writes are files it writes.
	Files() (reads, writes []string)
}

// InputFactory makes inputs of one type.
type InputFactory interface {
	Type() string
	NewConfig() Config
	NewInput(set Settings, cfg Config) (Input, error)
}

// OutputFactory makes outputs of one type.
type OutputFactory interface {
	Type() string
	NewConfig() Config
	NewOutput(set Settings, cfg Config) (Output, error)
}

// NewInputFactory makes the factory of an input type from its Config's
// constructor (defaults applied) and the input's constructor, which must
// have no side effects: it validates and allocates; Run does the rest.
func NewInputFactory[C Config](typ string, newConfig func() C, newInput func(Settings, C) (Input, error)) InputFactory {
	return &inputFactory[C]{typ, newConfig, newInput}
}

// NewOutputFactory is NewInputFactory for outputs.
func NewOutputFactory[C Config](typ string, newConfig func() C, newOutput func(Settings, C) (Output, error)) OutputFactory {
	return &outputFactory[C]{typ, newConfig, newOutput}
}

type inputFactory[C Config] struct {
	typ string
	cfg func() C
	new func(Settings, C) (Input, error)
}

func (f *inputFactory[C]) Type() string      { return f.typ }
func (f *inputFactory[C]) NewConfig() Config { return f.cfg() }
func (f *inputFactory[C]) NewInput(set Settings, cfg Config) (Input, error) {
	c, ok := cfg.(C)
	if !ok {
		return nil, fmt.Errorf("%s: configuration is %T, the %s input wants %T", set.ID.Path(), cfg, f.typ, c)
	}
	return f.new(set, c)
}

type outputFactory[C Config] struct {
	typ string
	cfg func() C
	new func(Settings, C) (Output, error)
}

func (f *outputFactory[C]) Type() string      { return f.typ }
func (f *outputFactory[C]) NewConfig() Config { return f.cfg() }
func (f *outputFactory[C]) NewOutput(set Settings, cfg Config) (Output, error) {
	c, ok := cfg.(C)
	if !ok {
		return nil, fmt.Errorf("%s: configuration is %T, the %s output wants %T", set.ID.Path(), cfg, f.typ, c)
	}
	return f.new(set, c)
}

// Registry holds the factories of the types a build has.
type Registry struct {
	inputs  map[string]InputFactory
	outputs map[string]OutputFactory
}

// NewRegistry makes a registry of the given factories.
func NewRegistry() *Registry {
	return &Registry{inputs: map[string]InputFactory{}, outputs: map[string]OutputFactory{}}
}

// Input adds input factories; a type registered twice is a programming error.
func (r *Registry) Input(fs ...InputFactory) *Registry {
	for _, f := range fs {
		if _, dup := r.inputs[f.Type()]; dup {
			panic("component: input type " + f.Type() + " registered twice")
		}
		r.inputs[f.Type()] = f
	}
	return r
}

// Output adds output factories.
func (r *Registry) Output(fs ...OutputFactory) *Registry {
	for _, f := range fs {
		if _, dup := r.outputs[f.Type()]; dup {
			panic("component: output type " + f.Type() + " registered twice")
		}
		r.outputs[f.Type()] = f
	}
	return r
}

// InputFactory is the factory of an input type.
func (r *Registry) InputFactory(typ string) (InputFactory, bool) {
	f, ok := r.inputs[typ]
	return f, ok
}

// OutputFactory is the factory of an output type.
func (r *Registry) OutputFactory(typ string) (OutputFactory, bool) {
	f, ok := r.outputs[typ]
	return f, ok
}

// Types lists the registered types of a kind, sorted.
func (r *Registry) Types(k Kind) []string {
	var out []string
	if k == KindInput {
		for t := range r.inputs {
			out = append(out, t)
		}
	} else {
		for t := range r.outputs {
			out = append(out, t)
		}
	}
	sort.Strings(out)
	return slices.Clip(out)
}
