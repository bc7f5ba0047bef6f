package process

import (
	"sort"
	"sync"
	"sync/atomic"
)

// Reason is why a record was dropped.
type Reason uint8

// Reasons for a drop.
const (
	ReasonNone       Reason = iota
	ReasonFilter            // filter: drop_if true or keep_if false
	ReasonThrottle          // throttle: over the rate of its key
	ReasonSample            // sample: not the 1 in N kept
	ReasonParseError        // a parser with on_error: drop
	numReasons
)

var reasonNames = [numReasons]string{"", "filter", "throttle", "sample", "parse_error"}

func (r Reason) String() string {
	if r < numReasons {
		return reasonNames[r]
	}
	return "reason?"
}

// Reasons lists the drop reasons, for metric labels.
func Reasons() []Reason {
	return []Reason{ReasonFilter, ReasonThrottle, ReasonSample, ReasonParseError}
}

// Stats are one processor's counters, updated by every runner of the chain.
// In = Out + Dropped (all reasons); Skipped records (its if was false) are
// counted in In and Out too.
type Stats struct {
	In      atomic.Uint64
	Out     atomic.Uint64
	Skipped atomic.Uint64
	Dropped [numReasons]atomic.Uint64
	// ParseErrors counts records a parser could not parse (kept, flagged or
	// dropped as on_error says).
	ParseErrors atomic.Uint64
	// EvalErrors counts expressions that failed at run time (a type error,
	// a panic): the record is kept as if the processor was not there.
	EvalErrors atomic.Uint64
	// Redacted counts values a redact processor changed or dropped.
	Redacted atomic.Uint64
	// RouteMisses counts route expressions that gave an undeclared stream
	// or no string: the record goes to the default.
	RouteMisses atomic.Uint64
}

// localStats are a runner's counts not yet added to the shared Stats:
// adding to shared atomics for every record and processor would cost more
// than most processors do.
type localStats struct {
	in, out, skipped, parseErrors, evalErrors, redacted, routeMisses uint64
	dropped                                                          [numReasons]uint64
}

func (l *localStats) flush(s *Stats) {
	add := func(a *atomic.Uint64, n *uint64) {
		if *n != 0 {
			a.Add(*n)
			*n = 0
		}
	}
	add(&s.In, &l.in)
	add(&s.Out, &l.out)
	add(&s.Skipped, &l.skipped)
	add(&s.ParseErrors, &l.parseErrors)
	add(&s.EvalErrors, &l.evalErrors)
	add(&s.Redacted, &l.redacted)
	add(&s.RouteMisses, &l.routeMisses)
	for i := range l.dropped {
		add(&s.Dropped[i], &l.dropped[i])
	}
}

// KeyCount is what was dropped for one key of a throttle.
type KeyCount struct {
	Key     string
	Dropped uint64
}

// OtherKey is the key that counts keys beyond a throttle's max_keys.
const OtherKey = "other"

// keyCounts counts drops per key, for at most max keys; the others are
// counted under OtherKey. Counts are never forgotten (they are counters).
type keyCounts struct {
	mu     sync.Mutex
	max    int
	counts map[string]*uint64 // pointers: an update looks the key up without copying it
}

func newKeyCounts(max int) *keyCounts {
	return &keyCounts{max: max, counts: map[string]*uint64{OtherKey: new(uint64)}}
}

func (k *keyCounts) add(key []byte) {
	k.mu.Lock()
	p, ok := k.counts[string(key)]
	if !ok {
		if len(k.counts) <= k.max { // OtherKey is not one of the max
			p = new(uint64)
			k.counts[string(key)] = p
		} else {
			p = k.counts[OtherKey]
		}
	}
	*p++
	k.mu.Unlock()
}

func (k *keyCounts) snapshot() []KeyCount {
	k.mu.Lock()
	out := make([]KeyCount, 0, len(k.counts))
	for key, n := range k.counts {
		if *n > 0 {
			out = append(out, KeyCount{Key: key, Dropped: *n})
		}
	}
	k.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}
