package process

import (
	"strings"
	"testing"
)

type panicStep struct{}

func (panicStep) run(*Runner, *localStats, *Record) Reason { panic("boom") }

// TestPanicKeepsRecord: a processor that panics (a bug) costs the record
// nothing but that processor: it is flagged, counted, and the chain goes on.
func TestPanicKeepsRecord(t *testing.T) {
	c := chainOf(t, "- {type: set, field: a, value: x}\n- {type: set, field: b, value: y}\n", Options{})
	c.nodes[0].step = panicStep{}
	r, res := runOne(c, in{body: "line"})
	if !res.Kept() {
		t.Fatalf("dropped: %v", res)
	}
	want := []string{"capstan.process_error=string:processors[0] set: failed: boom", "b=string:y"}
	if got := fieldList(r); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("fields %q, want %q", got, want)
	}
	if n := c.nodes[0].stats.EvalErrors.Load(); n != 1 {
		t.Fatalf("eval errors %d, want 1", n)
	}
}

// TestEvalErrorsAreCounted: an expression that fails at run time leaves
// the record as if the processor were not there, and is counted.
func TestEvalErrorsAreCounted(t *testing.T) {
	c := chainOf(t, `
- {type: filter, drop_if: 'attrs.n > 3'}
- {type: set, field: x, expression: 'attrs.n + 1'}
- {type: route, expression: 'attrs.n * 2', default: b}
- {type: set, field: y, value: z, if: 'attrs.n < 1'}
`, Options{InputFields: []string{"n"}, Streams: []string{"a", "b"}})
	r, res := runOne(c, in{body: "x", fields: fields("n", "text")})
	if !res.Kept() || r.Stream != "b" || len(r.Fields) != 1 {
		t.Fatalf("result %v stream %q fields %v", res, r.Stream, fieldList(r))
	}
	for i, want := range []uint64{1, 1, 1, 1} {
		st := &c.nodes[i].stats
		if st.EvalErrors.Load() != want || st.In.Load() != 1 || st.Out.Load() != 1 {
			t.Errorf("processors[%d]: eval errors %d in %d out %d", i, st.EvalErrors.Load(), st.In.Load(), st.Out.Load())
		}
	}
	if c.nodes[2].stats.RouteMisses.Load() != 1 || c.nodes[3].stats.Skipped.Load() != 1 {
		t.Errorf("route misses %d, skipped %d", c.nodes[2].stats.RouteMisses.Load(), c.nodes[3].stats.Skipped.Load())
	}
}

// TestStats: counters add up per processor, and a dropped record is seen
// by no later processor.
func TestStats(t *testing.T) {
	c := chainOf(t, `
- {type: json, merge: true}
- {type: filter, drop_if: 'attrs.drop == true'}
- {type: redact, detectors: [email], name: mask_mail}
`, Options{})
	rn := c.NewRunner()
	for _, line := range []string{`{"drop":true}`, `{"u":"a@example.com"}`, `nope`, `{"drop":false}`} {
		var r Record
		r.Reset(0, []byte(line), nil, "s")
		rn.Process(&r)
	}
	rn.Flush()
	p := c.Processors()
	if p[0].Name != "json_0" || p[2].Name != "mask_mail" || p[1].Path != "processors[1]" || p[1].Type != "filter" {
		t.Fatalf("info %+v", p)
	}
	check := func(i int, in, out, dropped, parse, redacted uint64) {
		t.Helper()
		s := p[i].Stats
		if s.In.Load() != in || s.Out.Load() != out || s.Dropped[ReasonFilter].Load() != dropped ||
			s.ParseErrors.Load() != parse || s.Redacted.Load() != redacted {
			t.Errorf("processors[%d]: in %d out %d dropped %d parse %d redacted %d", i, s.In.Load(), s.Out.Load(),
				s.Dropped[ReasonFilter].Load(), s.ParseErrors.Load(), s.Redacted.Load())
		}
	}
	check(0, 4, 4, 0, 1, 0)
	check(1, 4, 3, 1, 0, 0)
	check(2, 3, 3, 0, 0, 2) // the body and the field u
}

func TestDecodeSpecsShapes(t *testing.T) {
	for _, raw := range []any{
		[]any{map[any]any{"type": "json", "merge": true}},
		[]any{map[string]any{"type": "json", "merge": "true"}}, // an environment override
	} {
		specs, err := DecodeSpecs(raw)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := New(specs, Options{}); err != nil {
			t.Fatalf("%v: %v", raw, err)
		}
	}
	if _, err := DecodeSpecs([]any{"json"}); err == nil || err.Error() != `processors[0]: want a map with a type, got string "json"` {
		t.Fatalf("error %v", err)
	}
}

func TestNewConfigDefaults(t *testing.T) {
	cfg, ok := NewConfig("json")
	j, isJSON := cfg.(*JSONConfig)
	if !ok || !isJSON || !j.Flatten || j.MaxDepth != 64 || j.MaxFields != 1000 {
		t.Fatalf("json defaults %+v", cfg)
	}
	if _, ok := NewConfig("nope"); ok {
		t.Fatal("unknown type made")
	}
	for _, typ := range Types() {
		if cfg, _ := NewConfig(typ); cfg.typeName() != typ {
			t.Errorf("NewConfig(%q) makes a %s", typ, cfg.typeName())
		}
	}
}
