package process

import (
	"errors"
	"fmt"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/types"
	"github.com/expr-lang/expr/vm"
)

// The expression environment (docs/processors.md lists it for users):
//
//	body    string   the record's body
//	time    int      the record's time, unix nanoseconds
//	stream  string   the stream the record goes to so far
//	attrs   map      the record's fields: attrs["level"], attrs.level
//	source  map      the source's attributes: source["k8s.namespace.name"]
//
// attrs["x"] and source["x"] with a constant key are rewritten at compile
// time into a variable of their own, which the runner binds to the record's
// value without allocating. Only an expression that uses attrs or source as
// a whole map (attrs[k] with a computed k, keys(attrs), "x" in attrs) makes
// the runner build the maps per evaluation, which allocates.

const (
	varBody   = "body"
	varTime   = "time"
	varStream = "stream"
	varAttrs  = "attrs"
	varSource = "source"
)

// memoryBudget bounds what one evaluation may build (elements of arrays,
// maps and ranges), whatever the input.
const memoryBudget = 10_000

type space uint8

const (
	spaceAttrs space = iota
	spaceSource
)

// slotDef is one constant-key reference, attrs["x"] or source["x"].
type slotDef struct {
	space space
	key   string
	name  string // its variable name: the source text people would write
}

// slotTable holds the references of every expression of a chain, so that
// one environment per runner serves them all.
type slotTable struct {
	byName map[string]int
	defs   []slotDef
}

func (t *slotTable) add(sp space, key string) int {
	base := varAttrs
	if sp == spaceSource {
		base = varSource
	}
	name := fmt.Sprintf("%s[%q]", base, key)
	if i, ok := t.byName[name]; ok {
		return i
	}
	if t.byName == nil {
		t.byName = map[string]int{}
	}
	t.byName[name] = len(t.defs)
	t.defs = append(t.defs, slotDef{space: sp, key: key, name: name})
	return len(t.defs) - 1
}

// program is a compiled expression.
type program struct {
	src   string
	prog  *vm.Program
	slots []int // indexes into the chain's slotTable
	maps  bool  // uses attrs or source as a whole map
	// fields are the record fields the expression reads by constant key.
	fields []string
	// results are the string constants the expression can evaluate to
	// (the branches of ?: and ??), for the route's static check.
	results []string
}

// constRef reports whether n is attrs["k"], attrs.k, source["k"] or source.k.
func constRef(n ast.Node) (space, string, bool) {
	m, ok := n.(*ast.MemberNode)
	if !ok {
		return 0, "", false
	}
	id, ok := m.Node.(*ast.IdentifierNode)
	if !ok {
		return 0, "", false
	}
	key, ok := m.Property.(*ast.StringNode)
	if !ok {
		return 0, "", false
	}
	switch id.Value {
	case varAttrs:
		return spaceAttrs, key.Value, true
	case varSource:
		return spaceSource, key.Value, true
	}
	return 0, "", false
}

// collector finds the constant-key references of a parsed expression.
type collector struct {
	t      *slotTable
	slots  []int
	fields []string
}

func (c *collector) Visit(node *ast.Node) {
	sp, key, ok := constRef(*node)
	if !ok {
		return
	}
	i := c.t.add(sp, key)
	for _, s := range c.slots {
		if s == i {
			return
		}
	}
	c.slots = append(c.slots, i)
	if sp == spaceAttrs {
		c.fields = append(c.fields, key)
	}
}

// rewriter replaces the references by their variables, and notes whether
// attrs or source are still used as maps.
type rewriter struct {
	t        *slotTable
	seen     int // identifiers attrs and source
	replaced int
}

func (w *rewriter) Visit(node *ast.Node) {
	if id, ok := (*node).(*ast.IdentifierNode); ok && (id.Value == varAttrs || id.Value == varSource) {
		w.seen++
		return
	}
	sp, key, ok := constRef(*node)
	if !ok {
		return
	}
	def := w.t.defs[w.t.add(sp, key)]
	ast.Patch(node, &ast.IdentifierNode{Value: def.name})
	w.replaced++
}

// compileExpr compiles src against the environment; asBool makes a result
// that is known not to be a bool a compile error.
func compileExpr(src string, t *slotTable, asBool bool) (*program, error) {
	if strings.TrimSpace(src) == "" {
		return nil, errors.New("empty expression")
	}
	tree, err := parser.Parse(src)
	if err != nil {
		return nil, exprError(err)
	}
	c := &collector{t: t}
	ast.Walk(&tree.Node, c)
	results := resultStrings(tree.Node, nil)

	anyMap := types.Map{types.Extra: types.Any}
	env := types.Map{
		varBody: types.String, varTime: types.Int, varStream: types.String,
		varAttrs: anyMap, varSource: anyMap,
	}
	for _, def := range t.defs {
		env[def.name] = types.Any
	}
	w := &rewriter{t: t}
	opts := []expr.Option{expr.Env(env), expr.Patch(w)}
	if asBool {
		opts = append(opts, expr.AsBool())
	}
	prog, err := expr.Compile(src, opts...)
	if err != nil {
		return nil, exprError(err)
	}
	return &program{
		src: src, prog: prog, slots: c.slots, maps: w.seen > w.replaced,
		fields: c.fields, results: results,
	}, nil
}

// resultStrings collects the string constants n can evaluate to.
func resultStrings(n ast.Node, out []string) []string {
	switch v := n.(type) {
	case *ast.StringNode:
		return append(out, v.Value)
	case *ast.ConditionalNode:
		return resultStrings(v.Exp2, resultStrings(v.Exp1, out))
	case *ast.BinaryNode:
		if v.Operator == "??" {
			return resultStrings(v.Right, resultStrings(v.Left, out))
		}
	}
	return out
}

// exprError turns expr's error into one line that gives the column (counted
// from 1) instead of a multi-line snippet.
func exprError(err error) error {
	var fe *file.Error
	if errors.As(err, &fe) {
		return fmt.Errorf("%s (column %d)", fe.Message, fe.Column+1)
	}
	return err
}

// exprEnv is one runner's environment: boxes bound to the record before
// each evaluation, and the VM, reused.
type exprEnv struct {
	vars   map[string]any
	body   strBox
	stream strBox
	time   intBox
	slots  []slotState
	attrs  map[string]any // the slow path's maps
	source map[string]any
	vm     vm.VM
}

// slotState holds the boxes of one reference and what its variable holds.
type slotState struct {
	def  slotDef
	s    strBox
	i    intBox
	f    floatBox
	held uint8
}

const (
	heldNil uint8 = iota
	heldString
	heldInt
	heldFloat
	heldTrue
	heldFalse
)

func newExprEnv(t *slotTable) *exprEnv {
	e := &exprEnv{
		vars: map[string]any{}, body: newStrBox(), stream: newStrBox(), time: newIntBox(),
		slots: make([]slotState, len(t.defs)),
		attrs: map[string]any{}, source: map[string]any{},
	}
	e.vm.MemoryBudget = memoryBudget
	e.vars[varBody], e.vars[varStream], e.vars[varTime] = e.body.v, e.stream.v, e.time.v
	e.vars[varAttrs], e.vars[varSource] = e.attrs, e.source
	for i, def := range t.defs {
		e.slots[i] = slotState{def: def, s: newStrBox(), i: newIntBox(), f: newFloatBox()}
		e.vars[def.name] = nil
	}
	return e
}

// eval runs p on r. The result is valid until the next evaluation and may
// point into r: copy what is kept. A panic in the VM is an error, never a
// crash (the VM recovers its own; this guards the binding).
func (e *exprEnv) eval(p *program, r *Record) (out any, err error) {
	defer func() {
		if v := recover(); v != nil {
			out, err = nil, fmt.Errorf("expression panicked: %v", v)
		}
	}()
	e.body.setBytes(r.Body)
	e.stream.setBytes(bytesOf(r.Stream))
	*e.time.p = int(r.Time)
	for _, i := range p.slots {
		e.bind(&e.slots[i], r)
	}
	if p.maps {
		e.fillMaps(r)
	}
	return e.vm.Run(p.prog, e.vars)
}

func (e *exprEnv) bind(s *slotState, r *Record) {
	var f Field
	var ok bool
	if s.def.space == spaceAttrs {
		f, ok = r.Get(s.def.key)
	} else {
		f, ok = r.sourceValue(s.def.key)
	}
	held := heldNil
	if ok {
		held = heldString
		switch f.Kind {
		case KindNull:
			held = heldNil
		case KindBool:
			held = heldFalse
			if string(f.Value) == "true" {
				held = heldTrue
			}
		case KindInt:
			if n, ok := parseInt(f.Value); ok {
				*s.i.p, held = int(n), heldInt
			}
		case KindFloat:
			if x, ok := parseFloat(f.Value); ok {
				*s.f.p, held = x, heldFloat
			}
		}
		if held == heldString {
			s.s.setBytes(f.Value)
		}
	}
	if held == s.held {
		return // the variable holds the right box, whose value was just set
	}
	s.held = held
	var v any
	switch held {
	case heldString:
		v = s.s.v
	case heldInt:
		v = s.i.v
	case heldFloat:
		v = s.f.v
	case heldTrue:
		v = true
	case heldFalse:
		v = false
	}
	e.vars[s.def.name] = v
}

// fillMaps builds attrs and source as maps: the allocating slow path.
func (e *exprEnv) fillMaps(r *Record) {
	clear(e.attrs)
	for _, f := range r.Fields {
		e.attrs[string(f.Key)] = fieldValue(f)
	}
	clear(e.source)
	for _, f := range r.Source {
		e.source[string(f.Key)] = fieldValue(f)
	}
}

// fieldValue is f as an expression value, copied.
func fieldValue(f Field) any {
	switch f.Kind {
	case KindNull:
		return nil
	case KindBool:
		return string(f.Value) == "true"
	case KindInt:
		if n, ok := parseInt(f.Value); ok {
			return int(n)
		}
	case KindFloat:
		if x, ok := parseFloat(f.Value); ok {
			return x
		}
	}
	return string(f.Value)
}
