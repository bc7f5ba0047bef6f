package process

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"regexp"
	"slices"
	"strings"
)

// RedactConfig finds secrets in the body and in fields and masks them,
// replaces them by a keyed hash, or drops the fields that hold them.
type RedactConfig struct {
	Common `koanf:",squash"`
	// Detectors are built-in detectors: card, email, jwt, aws_key,
	// github_token, slack_token, bearer. With neither detectors nor
	// patterns, all of them run.
	Detectors []string `koanf:"detectors"`
	// Patterns are RE2 expressions; when one has a group named secret,
	// only the group is replaced (password=(?P<secret>\S+)).
	Patterns []string `koanf:"patterns"`
	// Action is mask (replace by Mask), hash (replace by hash:<16 hex
	// digits of HMAC-SHA256 with HashKey>, the same for the same secret
	// everywhere) or drop_field (delete a field that holds a secret).
	Action  string `koanf:"action"`
	Mask    string `koanf:"mask"`
	HashKey string `koanf:"hash_key"`
	// Body redacts the body.
	Body bool `koanf:"body"`
	// Fields are the fields to redact (a name ending in * is a prefix);
	// the default, *, is every field. Strings, numbers and JSON values are
	// looked at; a value that changes becomes a string.
	Fields []string `koanf:"fields"`
}

func newRedactConfig() *RedactConfig {
	return &RedactConfig{Action: "mask", Mask: "****", Body: true, Fields: []string{"*"}}
}

func (c *RedactConfig) typeName() string { return "redact" }

// minHashKey is the shortest hash_key: a shorter one makes hashes of
// short secrets (card numbers) easy to reverse by trying them all.
const minHashKey = 16

// Validate checks the keys.
func (c *RedactConfig) Validate() error {
	var errs errorList
	for i, d := range c.Detectors {
		if _, ok := detectors[d]; !ok {
			errs.add(fmt.Sprintf("detectors[%d]", i), fmt.Sprintf("unknown detector %q (detectors: %s)", d, strings.Join(detectorOrder, ", ")))
		}
	}
	for i, p := range c.Patterns {
		if _, err := regexp.Compile(p); err != nil {
			errs.add(fmt.Sprintf("patterns[%d]", i), err.Error())
		}
	}
	switch c.Action {
	case "mask":
	case "hash":
		if len(c.HashKey) < minHashKey {
			errs.add("hash_key", fmt.Sprintf("needed for action hash: at least %d bytes", minHashKey))
		}
	case "drop_field":
		if c.Body {
			errs.add("body", "action drop_field cannot drop the body: set body: false")
		}
	default:
		errs.add("action", fmt.Sprintf("%q: want mask, hash or drop_field", c.Action))
	}
	if !c.Body && len(c.Fields) == 0 {
		errs.add("fields", "redacts nothing: no fields and body: false")
	}
	validatePatterns(c.Fields, &errs)
	validateCommon(&c.Common, &errs)
	return errs.err()
}

type redactStep struct {
	detectors []detector
	patterns  []*regexp.Regexp
	secret    []int // per pattern: the group named secret, or 0
	action    string
	mask      []byte
	mac       int // index of the runner's HMAC for this step
	body      bool
	fields    []pattern
}

func (c *RedactConfig) build(b *builder) step {
	s := &redactStep{action: c.Action, mask: []byte(c.Mask), body: c.Body, fields: compilePatterns(c.Fields)}
	names := c.Detectors
	if len(names) == 0 && len(c.Patterns) == 0 {
		names = detectorOrder
	}
	for _, n := range names {
		s.detectors = append(s.detectors, detectors[n])
	}
	for _, p := range c.Patterns {
		re := regexp.MustCompile(p)
		s.patterns = append(s.patterns, re)
		s.secret = append(s.secret, max(re.SubexpIndex("secret"), 0))
	}
	if c.Action == "hash" {
		s.mac = len(b.chain.macKeys)
		b.chain.macKeys = append(b.chain.macKeys, []byte(c.HashKey))
	}
	return s
}

func (s *redactStep) run(rn *Runner, ls *localStats, r *Record) Reason {
	if s.body {
		if v, ok := s.redact(rn, r, r.Body); ok {
			r.Body = v
			ls.redacted++
		}
	}
	for i := 0; i < len(r.Fields); i++ {
		f := &r.Fields[i]
		if (f.Kind != KindString && f.Kind != KindInt && f.Kind != KindJSON) || !matchAny(s.fields, f.Key) {
			continue
		}
		if s.action == "drop_field" {
			if s.find(rn, f.Value) {
				r.remove(i)
				i--
				ls.redacted++
			}
			continue
		}
		if v, ok := s.redact(rn, r, f.Value); ok {
			f.Value, f.Kind = v, KindString
			ls.redacted++
		}
	}
	return ReasonNone
}

// find collects the spans to redact in v into rn.spans, sorted and merged,
// and reports whether there are any.
func (s *redactStep) find(rn *Runner, v []byte) bool {
	spans := rn.spans[:0]
	for _, d := range s.detectors {
		if len(v) >= d.min {
			spans = d.scan(v, spans)
		}
	}
	for i, re := range s.patterns {
		// A custom pattern allocates its match indexes (Go's regexp).
		for _, m := range re.FindAllSubmatchIndex(v, -1) {
			g := s.secret[i]
			if m[2*g] >= 0 && m[2*g+1] > m[2*g] {
				spans = append(spans, span{m[2*g], m[2*g+1]})
			}
		}
	}
	if len(spans) > 1 {
		slices.SortFunc(spans, func(a, b span) int { return a.start - b.start })
		out := spans[:1]
		for _, sp := range spans[1:] {
			last := &out[len(out)-1]
			if sp.start <= last.end {
				last.end = max(last.end, sp.end)
				continue
			}
			out = append(out, sp)
		}
		spans = out
	}
	rn.spans = spans
	return len(spans) > 0
}

// redact returns v with its secrets replaced, written in r's arena.
func (s *redactStep) redact(rn *Runner, r *Record, v []byte) ([]byte, bool) {
	if !s.find(rn, v) {
		return nil, false
	}
	m := r.mark()
	prev := 0
	for _, sp := range rn.spans {
		r.arena = append(r.arena, v[prev:sp.start]...)
		if s.action == "hash" {
			r.arena = rn.appendHash(r.arena, s.mac, v[sp.start:sp.end])
		} else {
			r.arena = append(r.arena, s.mask...)
		}
		prev = sp.end
	}
	r.arena = append(r.arena, v[prev:]...)
	return r.since(m), true
}

// appendHash appends hash:<16 hex digits> of HMAC-SHA256(key i, secret).
func (rn *Runner) appendHash(dst []byte, i int, secret []byte) []byte {
	if rn.macs == nil {
		rn.macs = make([]hashState, len(rn.c.macKeys))
	}
	h := &rn.macs[i]
	if h.mac == nil {
		h.mac = hmac.New(sha256.New, rn.c.macKeys[i])
	}
	h.mac.Reset()
	h.mac.Write(secret)
	h.sum = h.mac.Sum(h.sum[:0])
	dst = append(dst, "hash:"...)
	return hex.AppendEncode(dst, h.sum[:8])
}

// hashState is a runner's HMAC of one redact, and its sum buffer.
type hashState struct {
	mac hash.Hash
	sum []byte
}
