package process

import (
	"bytes"
	"fmt"
)

// JSONConfig parses the body, or a field, as JSON.
type JSONConfig struct {
	Common  `koanf:",squash"`
	OnError `koanf:",squash"`
	// Field is the field to parse; empty parses the body.
	Field string `koanf:"field"`
	// Merge makes the members of an object the record's fields (a
	// container runtime's JSON log line becomes fields); without it the
	// whole value goes into the field Target.
	Merge bool `koanf:"merge"`
	// Target is, with Merge, a prefix for the fields' names (target.key);
	// without it, the field that gets the value.
	Target string `koanf:"target"`
	// Flatten turns nested objects into dotted names (http.status) instead
	// of keeping them as one JSON value; arrays always stay JSON values.
	Flatten bool `koanf:"flatten"`
	// BodyFrom names a top-level member (before any Target prefix) whose
	// string value becomes the body instead of a field, e.g. msg.
	BodyFrom string `koanf:"body_from"`
	// Remove deletes Field once it parsed.
	Remove bool `koanf:"remove"`
	// MaxDepth bounds the nesting of objects and arrays (at most 128).
	MaxDepth int `koanf:"max_depth"`
	// MaxFields bounds the fields one record may get from the parse; a
	// record with more fails to parse.
	MaxFields int `koanf:"max_fields"`
	// MaxKeyBytes bounds a flattened name; an object below it stays one
	// JSON value.
	MaxKeyBytes int `koanf:"max_key_bytes"`
}

func newJSONConfig() *JSONConfig {
	return &JSONConfig{Flatten: true, MaxDepth: 64, MaxFields: 1000, MaxKeyBytes: 1024}
}

func (c *JSONConfig) typeName() string { return "json" }

// Validate checks the keys.
func (c *JSONConfig) Validate() error {
	var errs errorList
	c.OnError.validate(&errs)
	if !c.Merge && c.Target == "" {
		errs.add("target", "needed without merge: the field that gets the parsed value")
	}
	if c.BodyFrom != "" && !c.Merge {
		errs.add("body_from", "needs merge: true")
	}
	if c.MaxDepth < 1 || c.MaxDepth > maxJSONDepth {
		errs.add("max_depth", fmt.Sprintf("%d: want 1 to %d", c.MaxDepth, maxJSONDepth))
	}
	if c.MaxFields < 1 {
		errs.add("max_fields", fmt.Sprintf("%d: want at least 1", c.MaxFields))
	}
	if c.MaxKeyBytes < 1 {
		errs.add("max_key_bytes", fmt.Sprintf("%d: want at least 1", c.MaxKeyBytes))
	}
	validateCommon(&c.Common, &errs)
	return errs.err()
}

type jsonStep struct {
	p        parseStep
	lim      jsonLimits
	merge    bool
	prefix   []byte // target + "." with merge
	target   []byte // without merge
	bodyFrom []byte // the full key whose value becomes the body
}

func (c *JSONConfig) build(b *builder) step {
	s := &jsonStep{
		p:     b.parseStep(c.Field, c.Remove, c.OnError),
		lim:   jsonLimits{maxDepth: c.MaxDepth, maxFields: c.MaxFields, maxKey: c.MaxKeyBytes, flatten: c.Flatten},
		merge: c.Merge,
	}
	if c.Remove && c.Field != "" {
		b.flow.remove(c.Field)
	}
	switch {
	case c.Merge && c.Target != "":
		s.prefix = []byte(c.Target + ".")
		b.produce(c.Target + ".*")
	case c.Merge:
		b.produce("*")
	default:
		s.target = []byte(c.Target)
		b.produce(c.Target)
	}
	if c.BodyFrom != "" {
		s.bodyFrom = append(append([]byte(nil), s.prefix...), c.BodyFrom...)
	}
	return s
}

func (s *jsonStep) run(rn *Runner, ls *localStats, r *Record) Reason {
	in, ok := s.p.input(r)
	if !ok {
		return s.p.failed(ls, r, "field missing", -1)
	}
	p := &rn.json
	p.r, p.lim = r, s.lim
	if !s.merge {
		kind, v, ok := p.parseValue(in)
		if !ok {
			return s.p.failed(ls, r, p.err.msg, p.err.at)
		}
		s.p.parsed(r)
		r.set(s.target, kind, v)
		return ReasonNone
	}
	if !p.parseObjectFields(in, s.prefix) {
		return s.p.failed(ls, r, p.err.msg, p.err.at)
	}
	n0 := p.n0
	if s.p.remove && s.p.field != nil {
		if i := r.indexBytes(s.p.field); i >= 0 && i < n0 {
			r.remove(i)
			n0--
		}
	}
	s.mergeParsed(r, n0)
	return ReasonNone
}

// mergeParsed folds the fields the parse appended from n0 on into the record:
// a name already there gets the new value in its place (the last of
// duplicates wins), and body_from's value becomes the body.
func (s *jsonStep) mergeParsed(r *Record, n0 int) {
	fs := r.Fields
	out := n0
	for j := n0; j < len(fs); j++ {
		f := fs[j]
		if s.bodyFrom != nil && f.Kind == KindString && bytes.Equal(f.Key, s.bodyFrom) {
			r.Body = f.Value
			continue
		}
		if i := indexIn(fs[:out], f.Key); i >= 0 {
			fs[i].Value, fs[i].Kind = f.Value, f.Kind
			continue
		}
		if out != j {
			fs[out] = f
		}
		out++
	}
	clear(fs[out:])
	r.Fields = fs[:out]
}

func indexIn(fs []Field, key []byte) int {
	for i := range fs {
		if bytes.Equal(fs[i].Key, key) {
			return i
		}
	}
	return -1
}
