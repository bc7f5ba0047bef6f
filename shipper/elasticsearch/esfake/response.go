package esfake

import (
	"bytes"
	"path"
	"strconv"
	"strings"
)

// filter is a compiled filter_path: dotted include patterns and '-'
// exclusions, '*' matching within a name and '**' any number of names.
type filter struct {
	include, exclude [][]string
}

func parseFilterPath(s string) *filter {
	if s == "" {
		return nil
	}
	fl := &filter{}
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if strings.HasPrefix(p, "-") {
			fl.exclude = append(fl.exclude, strings.Split(p[1:], "."))
		} else {
			fl.include = append(fl.include, strings.Split(p, "."))
		}
	}
	return fl
}

// matchPattern tells whether pat covers p and all below it (full), or may
// match something below p (partial).
func matchPattern(pat, p []string) (full, partial bool) {
	if len(pat) == 0 {
		return true, false
	}
	if len(p) == 0 {
		return false, true
	}
	if pat[0] == "**" {
		f1, p1 := matchPattern(pat[1:], p)
		f2, p2 := matchPattern(pat, p[1:])
		return f1 || f2, p1 || p2 || len(p) > 0
	}
	if ok, _ := path.Match(pat[0], p[0]); !ok {
		return false, false
	}
	return matchPattern(pat[1:], p[1:])
}

type verdict uint8

const (
	vDrop    verdict = iota
	vKeep            // emit it and, subject to exclusions, everything below
	vDescend         // emit it only if something below is emitted
)

func (fl *filter) verdict(p []string) verdict {
	for _, ex := range fl.exclude {
		if full, _ := matchPattern(ex, p); full {
			return vDrop
		}
	}
	if len(fl.include) == 0 {
		return vKeep
	}
	v := vDrop
	for _, in := range fl.include {
		full, partial := matchPattern(in, p)
		if full {
			return vKeep
		}
		if partial {
			v = vDescend
		}
	}
	return v
}

// emitter writes JSON objects and arrays, applying a filter when one is set.
type emitter struct {
	b     []byte
	fl    *filter
	path  []string
	stack []frame
}

type frame struct {
	start   int // where the container began, before its leading comma
	n       int // members written
	descend bool
	named   bool // the container pushed a path name
}

func (e *emitter) member(name string) {
	if len(e.stack) > 0 {
		top := &e.stack[len(e.stack)-1]
		if top.n > 0 {
			e.b = append(e.b, ',')
		}
		top.n++
	}
	if name != "" {
		e.b = appendQuoted(e.b, name)
		e.b = append(e.b, ':')
	}
}

// decide returns whether the member named name (empty for an array element)
// is written and whether its emptiness drops it.
func (e *emitter) decide(name string) (emit, descend bool) {
	if e.fl == nil || name == "" {
		return true, len(e.stack) > 0 && e.stack[len(e.stack)-1].descend
	}
	e.path = append(e.path, name)
	v := e.fl.verdict(e.path)
	e.path = e.path[:len(e.path)-1]
	return v != vDrop, v == vDescend
}

// open starts an object or array member; false means it is filtered out and
// its contents must not be written (do not call close).
func (e *emitter) open(name string, array bool) bool {
	emit, descend := e.decide(name)
	if !emit {
		return false
	}
	start := len(e.b)
	e.member(name)
	if array {
		e.b = append(e.b, '[')
	} else {
		e.b = append(e.b, '{')
	}
	if name != "" {
		e.path = append(e.path, name)
	}
	e.stack = append(e.stack, frame{start: start, descend: descend, named: name != ""})
	return true
}

func (e *emitter) close(array bool) {
	top := e.stack[len(e.stack)-1]
	e.stack = e.stack[:len(e.stack)-1]
	if top.named {
		e.path = e.path[:len(e.path)-1]
	}
	if top.descend && top.n == 0 && len(e.stack) > 0 {
		e.b = e.b[:top.start]
		e.stack[len(e.stack)-1].n--
		return
	}
	if array {
		e.b = append(e.b, ']')
	} else {
		e.b = append(e.b, '}')
	}
}

// raw writes a member with an already encoded scalar value.
func (e *emitter) raw(name string, v []byte) {
	if emit, descend := e.decide(name); !emit || descend {
		return
	}
	e.member(name)
	e.b = append(e.b, v...)
}

// rawObject writes a member with an already encoded object, kept whole when
// anything under it is asked for.
func (e *emitter) rawObject(name string, v []byte) {
	if emit, _ := e.decide(name); !emit {
		return
	}
	e.member(name)
	e.b = append(e.b, v...)
}

func (e *emitter) str(name, v string) {
	if emit, descend := e.decide(name); !emit || descend {
		return
	}
	e.member(name)
	e.b = appendQuoted(e.b, v)
}

func (e *emitter) int(name string, v int64) {
	if emit, descend := e.decide(name); !emit || descend {
		return
	}
	e.member(name)
	e.b = strconv.AppendInt(e.b, v, 10)
}

// appendBulkResponse writes the bulk answer in the flavor's field order.
// ic, when not nil, remembers the filtered rendering of successful items
// (see itemCache).
func appendBulkResponse(b []byte, fl *filter, flavor Flavor, took int64, errorsSeen bool, results []result, ic *itemCache) []byte {
	e := emitter{b: b, fl: fl}
	e.open("", false)
	errs := []byte("false")
	if errorsSeen {
		errs = []byte("true")
	}
	if flavor == OpenSearch {
		e.int("took", took)
		e.raw("errors", errs)
	} else {
		e.raw("errors", errs)
		e.int("took", took)
	}
	if e.open("items", true) {
		for i := range results {
			if r := &results[i]; fl == nil && r.err == nil && !r.noop {
				e.member("")
				e.b = appendCreated(e.b, r)
				continue
			}
			if ic != nil && fl != nil {
				if out, ok := ic.lookup(&e, &results[i]); ok {
					if len(out) > 0 {
						e.member("")
						e.b = append(e.b, out...)
					}
					continue
				}
			}
			appendItem(&e, &results[i])
		}
		e.close(true)
	}
	e.close(false)
	return e.b
}

func appendItem(e *emitter, r *result) {
	e.open("", false)
	if e.open(r.action, false) {
		e.str("_index", r.index)
		if r.hasID {
			e.str("_id", r.id)
		} else {
			e.raw("_id", []byte("null"))
		}
		if r.err != nil {
			e.int("status", int64(r.status))
			e.rawObject("error", r.err.appendObject(nil, true))
		} else {
			e.int("_version", r.version)
			e.str("result", r.result)
			if e.open("_shards", false) {
				total, ok := int64(2), int64(1)
				if r.noop {
					total, ok = 0, 0
				}
				e.int("total", total)
				e.int("successful", ok)
				e.int("failed", 0)
				e.close(false)
			}
			e.int("_seq_no", r.seqNo)
			e.int("_primary_term", 1)
			e.int("status", int64(r.status))
		}
		e.close(false)
	}
	e.close(false)
}

// itemCache holds, for one filter_path, the rendering of successful items
// whose filtered answer depends only on their action, status, result and
// version (the common case: filter_path keeps the status and the errors).
// lookup either gives exactly what appendItem writes (without the leading
// comma; empty when the filter drops the item) or declines.
type itemCache struct {
	filter  string
	entries []cacheEntry
	probe   emitter
}

type cacheKey struct {
	action, result string
	status         int
	version        int64
	noop           bool
}

type cacheEntry struct {
	key cacheKey
	out []byte
	ok  bool // false: the rendering depends on the index, id or seq_no
}

// reset keeps the entries when the filter is the same as last time.
func (ic *itemCache) reset(filter string) {
	if filter != ic.filter {
		ic.filter, ic.entries = filter, ic.entries[:0]
	}
}

func (ic *itemCache) lookup(e *emitter, r *result) ([]byte, bool) {
	if r.err != nil || len(e.stack) != 2 || len(e.path) != 1 || e.path[0] != "items" {
		return nil, false
	}
	k := cacheKey{action: r.action, result: r.result, status: r.status, version: r.version, noop: r.noop}
	for i := range ic.entries {
		if ic.entries[i].key == k {
			return ic.entries[i].out, ic.entries[i].ok
		}
	}
	if len(ic.entries) >= 16 {
		return nil, false
	}
	// Render two probes that differ in every other value: equal renderings
	// do not depend on them, as the filter decides by names only.
	a := result{action: r.action, index: "a", id: "a", hasID: true, status: r.status, result: r.result, version: r.version, seqNo: 0, noop: r.noop}
	b := a
	b.index, b.id, b.hasID, b.seqNo = "b", "", false, 1
	outA := ic.render(e, &a)
	outB := ic.render(e, &b)
	ent := cacheEntry{key: k, out: outA, ok: bytes.Equal(outA, outB)}
	ic.entries = append(ic.entries, ent)
	return ent.out, ent.ok
}

// render writes r alone as appendItem would inside e's items array.
func (ic *itemCache) render(e *emitter, r *result) []byte {
	p := &ic.probe
	top := e.stack[1]
	top.start, top.n = 0, 0
	p.b, p.fl = nil, e.fl
	p.path = append(p.path[:0], e.path...)
	p.stack = append(p.stack[:0], e.stack[0], top)
	appendItem(p, r)
	return p.b
}
