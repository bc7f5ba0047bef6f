package loki

import (
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
	"unsafe"

	"go.uber.org/zap"

	"github.com/capstan-agent/capstan/shipper/delivery"
	"github.com/capstan-agent/capstan/spool"
	"github.com/capstan-agent/capstan/spool/batch"
)

// A record's stream is its label set, written as Loki writes one —
// {a="x", b="y"}, names sorted, values quoted with Go's escapes — which is
// also the request key: records of one stream share requests, and with
// Ordered a stream's requests go one at a time.

const (
	// overflowLabel marks the stream of records whose label set would
	// have passed max_streams.
	overflowLabel = "capstan_overflow"
	// fallbackKey is the stream of a record none of whose labels has a
	// value (Loki refuses a stream without labels): Loki 3's own name for a
	// service it cannot tell.
	fallbackKey = `{service_name="unknown_service"}`
)

// label is one label of the configuration: from an attribute, or static.
type label struct {
	name   string
	attr   string // "" for a static label
	static []byte
}

// labeler makes a record's stream and keeps the count of distinct ones
// under max_streams.
type labeler struct {
	labels      []label  // sorted by name
	attrs       []string // attributes labels are taken from
	overflowKey string
	keys        [2][]byte // fallbackKey, overflowKey as bytes
	max         int
	log         *zap.Logger

	mu   sync.Mutex
	sets map[string]struct{} // label sets admitted

	streams  atomic.Int64
	overflow atomic.Uint64 // records sent to the overflow stream
	warned   atomic.Int64  // unix ns of the last overflow warning

	parts sync.Map // spool.Key -> *partLabels, a lane's own
}

// partLabels is one partition's key buffer and the sets it saw admitted
// (read without the lock: one lane per partition).
type partLabels struct {
	buf   []byte
	known map[string]struct{}
	// The last batch's key, for records without attributes of their own
	// (their labels are their source's): a batch is named by its producer
	// and sequence.
	producer, sequence uint64
	key                []byte
}

func newLabeler(dynamic, static map[string]string, maxStreams int, log *zap.Logger) *labeler {
	l := &labeler{max: maxStreams, log: log, sets: map[string]struct{}{}}
	for name, attr := range dynamic {
		l.labels = append(l.labels, label{name: name, attr: attr})
		if !slices.Contains(l.attrs, attr) {
			l.attrs = append(l.attrs, attr)
		}
	}
	over := []label{{name: overflowLabel, static: []byte("true")}}
	for name, v := range static {
		l.labels = append(l.labels, label{name: name, static: []byte(v)})
		over = append(over, label{name: name, static: []byte(v)})
	}
	byName := func(a, b label) int {
		if a.name < b.name {
			return -1
		}
		if a.name > b.name {
			return 1
		}
		return 0
	}
	slices.SortFunc(l.labels, byName)
	slices.SortFunc(over, byName)
	l.overflowKey = string(appendSet(nil, over, nil))
	l.keys = [2][]byte{[]byte(fallbackKey), []byte(l.overflowKey)}
	return l
}

// Key is the record's stream (the request key).
func (l *labeler) Key(rec *delivery.Record) []byte {
	p := l.part(rec.Partition)
	bySource := rec.Producer != 0 && noOwnAttrs(rec)
	if bySource && p.key != nil && p.producer == rec.Producer && p.sequence == rec.Sequence {
		if &p.key[0] == &l.keys[1][0] {
			l.overflow.Add(1) // counted per record
		}
		return p.key
	}
	k := l.key(p, rec)
	if bySource {
		p.producer, p.sequence, p.key = rec.Producer, rec.Sequence, k
	} else {
		p.key = nil
	}
	return k
}

// key makes rec's key.
func (l *labeler) key(p *partLabels, rec *delivery.Record) []byte {
	b := appendSet(p.buf[:0], l.labels, rec)
	p.buf = b
	if len(b) == 2 { // {}
		return l.keys[0]
	}
	if _, ok := p.known[string(b)]; ok {
		return b
	}
	l.mu.Lock()
	_, ok := l.sets[string(b)]
	if !ok && len(l.sets) < l.max {
		l.sets[string(b)] = struct{}{}
		l.streams.Store(int64(len(l.sets)))
		ok = true
	}
	l.mu.Unlock()
	if ok {
		p.known[string(b)] = struct{}{}
		return b
	}
	l.overflow.Add(1)
	l.warnOverflow(b)
	return l.keys[1]
}

func (l *labeler) part(k spool.Key) *partLabels {
	if p, ok := l.parts.Load(k); ok {
		return p.(*partLabels)
	}
	p, _ := l.parts.LoadOrStore(k, &partLabels{known: map[string]struct{}{}})
	return p.(*partLabels)
}

// warnOverflow logs at most once a minute that records go to the
// overflow stream, naming one set that did.
func (l *labeler) warnOverflow(set []byte) {
	now := time.Now().UnixNano()
	last := l.warned.Load()
	if now-last < int64(time.Minute) || !l.warned.CompareAndSwap(last, now) {
		return
	}
	l.log.Warn("max_streams reached: records of new label sets go to the overflow stream, their labels kept as structured metadata",
		zap.Int("max_streams", l.max), zap.String("label_set", string(set)), zap.String("stream", l.overflowKey),
		zap.Uint64("records_so_far", l.overflow.Load()))
}

// isLabelAttr says whether attribute key makes a label (and is then not
// repeated as structured metadata).
func (l *labeler) isLabelAttr(key []byte) bool {
	for _, a := range l.attrs {
		if a == string(key) {
			return true
		}
	}
	return false
}

// appendSet appends the label set of rec (nil: only the static labels)
// as Loki writes one; labels without a value are left out, as Loki drops
// them.
func appendSet(b []byte, labels []label, rec *delivery.Record) []byte {
	b = append(b, '{')
	n := 0
	for i := range labels {
		lb := &labels[i]
		v := lb.static
		if lb.attr != "" {
			if rec == nil {
				continue
			}
			v = lookup(lb.attr, rec.Attrs(), rec.SourceAttrs())
		}
		if len(v) == 0 {
			continue
		}
		if n > 0 {
			b = append(b, ", "...)
		}
		b = append(b, lb.name...)
		b = append(b, '=')
		b = appendQuoted(b, v)
		n++
	}
	return append(b, '}')
}

// lookup is the value of attribute name: the record's own, else its
// source's.
func lookup(name string, own, src batch.AttrIter) []byte {
	for a, ok := own.NextAttr(); ok; a, ok = own.NextAttr() {
		if string(a.Key) == name {
			return a.Value
		}
	}
	for a, ok := src.NextAttr(); ok; a, ok = src.NextAttr() {
		if string(a.Key) == name {
			return a.Value
		}
	}
	return nil
}

// appendQuoted appends v quoted as Loki writes a label value
// (strconv.Quote, as Prometheus' labels do), with each byte of invalid
// UTF-8 first replaced by U+FFFD: Loki's parser refuses invalid UTF-8.
func appendQuoted(b, v []byte) []byte {
	if len(v) == 0 {
		return append(b, `""`...)
	}
	if !utf8.Valid(v) {
		var ok []byte
		for i := 0; i < len(v); {
			r, n := utf8.DecodeRune(v[i:])
			ok = utf8.AppendRune(ok, r) // RuneError for an invalid byte
			i += n
		}
		v = ok
	}
	return strconv.AppendQuote(b, unsafe.String(&v[0], len(v)))
}
