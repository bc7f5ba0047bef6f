package process

import (
	"fmt"
	"strconv"
	"time"
)

// Fields a chain sets on a record that a step could not handle; the value
// says which processor and why. docs/processors.md lists them.
var (
	keyParseError   = []byte("capstan.parse_error")
	keyProcessError = []byte("capstan.process_error")
)

// Options are what a chain needs to know about where it runs.
type Options struct {
	// Streams are the declared stream names: a route to any other is
	// refused. Nil turns the check off (and a route then takes any name).
	Streams []string
	// InputFields are the record fields the input itself may set before
	// the chain runs (syslog's severity, app ...), for the static field
	// check; a name ending in * stands for every name with that prefix,
	// "*" for any name at all.
	InputFields []string
	// Now is the clock of throttle; nil is time.Now.
	Now func() time.Time
}

// Chain is a compiled processor list. It is safe for concurrent use by any
// number of Runners; it holds the processors' shared state (counters,
// throttle buckets).
type Chain struct {
	nodes []*node
	slots slotTable
	// macKeys are the hash keys of the redacts that hash, by index.
	macKeys [][]byte
}

type node struct {
	path  string // processors[i]
	typ   string
	name  string
	cond  *program
	step  step
	stats Stats
	keys  *keyCounts // drops per key (throttle), or nil
}

// step is one compiled processor. run returns ReasonNone to keep the
// record; it counts what it did in ls.
type step interface {
	run(rn *Runner, ls *localStats, r *Record) Reason
}

// builder carries what compiling a chain needs.
type builder struct {
	opts   Options
	slots  *slotTable
	flow   *flowState
	errs   errorList
	path   string
	who    string
	chain  *Chain
	node   *node
	prefix []byte // "processors[i] type: " for the messages a step sets
}

func (b *builder) fail(key, msg string) { b.errs.add(joinPath(b.path, key), msg) }

// expr compiles src found at key; on error it records it and returns nil.
func (b *builder) expr(key, src string, asBool bool) *program {
	p, err := compileExpr(src, b.slots, asBool)
	if err != nil {
		b.fail(key, err.Error())
		return nil
	}
	for _, f := range p.fields {
		b.consume(key, f)
	}
	return p
}

// consume checks that field may be set when the step at key reads it.
func (b *builder) consume(key, field string) {
	if !b.flow.has(field) {
		b.fail(key, b.flow.missing(field))
	}
}

func (b *builder) produce(field string) { b.flow.add(field, b.who) }

// New decodes, validates and compiles a processors list. Errors are Errors
// with key paths relative to the chain (processors[2].drop_if).
func New(specs []Spec, opts Options) (*Chain, error) {
	cfgs, err := DecodeConfigs(specs)
	if err != nil {
		return nil, err
	}
	return NewFromConfigs(cfgs, opts)
}

// NewFromConfigs compiles configurations already decoded; it validates
// each and runs the chain's static checks.
func NewFromConfigs(cfgs []Config, opts Options) (*Chain, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	c := &Chain{}
	b := &builder{opts: opts, slots: &c.slots, flow: newFlow(opts.InputFields), chain: c}
	for i, cfg := range cfgs {
		b.path = fmt.Sprintf("processors[%d]", i)
		if err := cfg.Validate(); err != nil {
			b.errs.addErr(b.path, err)
			continue
		}
		com := cfg.common()
		nd := &node{path: b.path, typ: cfg.typeName(), name: com.Name}
		if nd.name == "" {
			nd.name = nd.typ + "_" + strconv.Itoa(i)
		}
		b.who = fmt.Sprintf("%s (%s)", b.path, nd.typ)
		b.prefix = fmt.Appendf(nil, "%s %s: ", b.path, nd.typ)
		b.node = nd
		before := b.flow
		if com.If != "" {
			nd.cond = b.expr("if", com.If, true)
			b.flow = before.clone()
		}
		nd.step = cfg.build(b)
		if com.If != "" {
			b.flow.union(before) // the step may not have run
		}
		c.nodes = append(c.nodes, nd)
	}
	if err := b.errs.err(); err != nil {
		return nil, err
	}
	return c, nil
}

// Validate runs every check New runs, without keeping the chain.
func Validate(specs []Spec, opts Options) error {
	_, err := New(specs, opts)
	return err
}

// Len is the number of processors.
func (c *Chain) Len() int { return len(c.nodes) }

// ProcessorInfo describes one processor of a chain, for metrics.
type ProcessorInfo struct {
	Path  string // processors[i]
	Type  string
	Name  string
	Stats *Stats
	// DroppedByKey returns a throttle's drops per key (at most max_keys
	// keys and OtherKey), sorted by key; nil for other types.
	DroppedByKey func() []KeyCount
}

// Processors describes the chain's processors in order.
func (c *Chain) Processors() []ProcessorInfo {
	out := make([]ProcessorInfo, len(c.nodes))
	for i, nd := range c.nodes {
		out[i] = ProcessorInfo{Path: nd.path, Type: nd.typ, Name: nd.name, Stats: &nd.stats}
		if nd.keys != nil {
			out[i].DroppedByKey = nd.keys.snapshot
		}
	}
	return out
}

// Result is what became of a record.
type Result struct {
	// Reason is why the record was dropped; ReasonNone if it was kept.
	Reason Reason
	// Processor is the index of the processor that dropped it, or -1.
	Processor int
}

// Kept reports whether the record goes on to the spool.
func (r Result) Kept() bool { return r.Reason == ReasonNone }

// flushEvery is how many records a runner processes between adding its
// counts to the chain's Stats (Flush adds them at once).
const flushEvery = 256

// Runner runs a chain on one goroutine's records, with buffers reused from
// record to record. It is not safe for concurrent use: each goroutine that
// processes records (a file reader, a connection) has its own.
type Runner struct {
	c       *Chain
	env     *exprEnv
	local   []localStats
	pending int
	json    jsonParser
	fields  []Field // a parser's fields before they are committed (logfmt)
	scratch []byte
	spans   []span
	macs    []hashState // per redact key, made on first use
}

// NewRunner makes a runner of c.
func (c *Chain) NewRunner() *Runner {
	return &Runner{c: c, env: newExprEnv(&c.slots), local: make([]localStats, len(c.nodes))}
}

// Process runs the chain on r. A record that is kept has been changed in
// place and goes to r.Stream. Nothing a record holds can make Process
// panic or drop it silently: failures are counted and flagged.
func (rn *Runner) Process(r *Record) Result {
	res := Result{Processor: -1}
	for i, nd := range rn.c.nodes {
		ls := &rn.local[i]
		ls.in++
		if reason := rn.runNode(nd, ls, r); reason != ReasonNone {
			ls.dropped[reason]++
			res = Result{Reason: reason, Processor: i}
			break
		}
		ls.out++
	}
	if rn.pending++; rn.pending >= flushEvery {
		rn.Flush()
	}
	if cap(rn.fields) > maxKeptFields {
		rn.fields = nil
	}
	return res
}

// runNode runs one processor, turning a panic into a counted, flagged
// failure that keeps the record.
func (rn *Runner) runNode(nd *node, ls *localStats, r *Record) (reason Reason) {
	defer func() {
		if v := recover(); v != nil {
			ls.evalErrors++
			m := r.mark()
			r.arena = fmt.Appendf(r.arena, "%s %s: failed: %v", nd.path, nd.typ, v)
			r.flag(keyProcessError, r.since(m))
			reason = ReasonNone
		}
	}()
	if nd.cond != nil {
		run, ok := rn.cond(nd.cond, r)
		if !ok {
			ls.evalErrors++
		}
		if !run {
			ls.skipped++
			return ReasonNone
		}
	}
	return nd.step.run(rn, ls, r)
}

// cond evaluates a condition: value is its result, ok false when it failed
// or gave no bool (value is then false).
func (rn *Runner) cond(p *program, r *Record) (value, ok bool) {
	out, err := rn.env.eval(p, r)
	if err != nil {
		return false, false
	}
	v, isBool := out.(bool)
	return v, isBool
}

// Flush adds the runner's counts to the chain's Stats. Process does it
// every few hundred records; an input calls it when it has appended a
// batch, so that metrics are current.
func (rn *Runner) Flush() {
	rn.pending = 0
	for i, nd := range rn.c.nodes {
		rn.local[i].flush(&nd.stats)
	}
}

// parseStep is what the parsing steps share: where they read, what they do on
// failure, and the message prefix for capstan.parse_error.
type parseStep struct {
	field   []byte // nil = the body
	remove  bool   // delete the field once parsed
	onError string
	prefix  []byte
}

func (b *builder) parseStep(field string, remove bool, onError OnError) parseStep {
	p := parseStep{remove: remove, onError: onError.OnError, prefix: b.prefix}
	if field != "" {
		p.field = []byte(field)
		b.consume("field", field)
	}
	if p.onError == "" || p.onError == "flag" {
		b.produce(string(keyParseError))
	}
	return p
}

// input returns what the parser reads, and whether it is there.
func (p *parseStep) input(r *Record) ([]byte, bool) {
	if p.field == nil {
		return r.Body, true
	}
	i := r.indexBytes(p.field)
	if i < 0 {
		return nil, false
	}
	return r.Fields[i].Value, true
}

// parsed removes the source field if asked to.
func (p *parseStep) parsed(r *Record) {
	if p.remove && p.field != nil {
		if i := r.indexBytes(p.field); i >= 0 {
			r.remove(i)
		}
	}
}

// failed counts a parse failure and does what on_error says; at >= 0 is
// the byte where parsing stopped.
func (p *parseStep) failed(ls *localStats, r *Record, msg string, at int) Reason {
	ls.parseErrors++
	switch p.onError {
	case "drop":
		return ReasonParseError
	case "keep":
		return ReasonNone
	}
	if r.indexBytes(keyParseError) >= 0 {
		return ReasonNone
	}
	m := r.mark()
	r.arena = append(append(r.arena, p.prefix...), msg...)
	if at >= 0 {
		r.arena = strconv.AppendInt(append(r.arena, " at byte "...), int64(at), 10)
	}
	r.flag(keyParseError, r.since(m))
	return ReasonNone
}
