package process

import (
	"fmt"
	"math"
	"sync"
	"time"
)

// ThrottleConfig lets through at most Rate records per second per key,
// with bursts of Burst; the others are dropped and counted per key.
type ThrottleConfig struct {
	Common `koanf:",squash"`
	// Rate is records per second for each key (fractions allowed: 0.5 is
	// one record every two seconds).
	Rate float64 `koanf:"rate"`
	// Burst is how many records a key may send at once after being quiet;
	// by default the rate rounded up.
	Burst int `koanf:"burst"`
	// Key is an expression whose value keys the limit, e.g.
	// source["k8s.namespace.name"]; empty is one limit for all records.
	Key string `koanf:"key"`
	// MaxKeys bounds the keys tracked; records of keys beyond it share one
	// limit and one count, "other".
	MaxKeys int `koanf:"max_keys"`
}

func (c *ThrottleConfig) typeName() string { return "throttle" }

// Validate checks the keys.
func (c *ThrottleConfig) Validate() error {
	var errs errorList
	if !(c.Rate > 0) || math.IsInf(c.Rate, 0) || c.Rate > 1e9 {
		errs.add("rate", fmt.Sprintf("%v: want records per second, more than 0 and at most 1e9", c.Rate))
	}
	if c.Burst < 0 {
		errs.add("burst", fmt.Sprintf("%d: want at least 1", c.Burst))
	}
	if c.MaxKeys < 1 {
		errs.add("max_keys", fmt.Sprintf("%d: want at least 1", c.MaxKeys))
	}
	if c.Key != "" {
		validateExpr("key", c.Key, false, &errs)
	}
	validateCommon(&c.Common, &errs)
	return errs.err()
}

// throttleStep is a GCRA limiter per key (the token bucket's integer
// twin): each key has a theoretical arrival time tat; a record at now is
// let through if tat - now <= (burst-1) * interval, and moves tat on by one
// interval. A key whose tat has passed is as good as new, which is what a
// sweep removes. Keys and state are shared by all the chain's runners.
type throttleStep struct {
	prog      *program
	interval  int64 // ns per record
	tolerance int64 // (burst-1) * interval
	maxKeys   int
	now       func() time.Time
	counts    *keyCounts

	mu        sync.Mutex
	index     map[string]int32 // key -> tats index
	tats      []int64
	other     int64 // the tat of keys beyond maxKeys
	lastSweep int64
}

func (c *ThrottleConfig) build(b *builder) step {
	burst := c.Burst
	if burst == 0 {
		burst = int(math.Ceil(c.Rate))
	}
	interval := max(int64(1e9/c.Rate), 1)
	s := &throttleStep{
		interval: interval, tolerance: int64(burst-1) * interval, maxKeys: c.MaxKeys,
		now: b.opts.Now, counts: newKeyCounts(c.MaxKeys), index: map[string]int32{},
	}
	if c.Key != "" {
		s.prog = b.expr("key", c.Key, false)
	}
	b.node.keys = s.counts
	return s
}

func (s *throttleStep) run(rn *Runner, ls *localStats, r *Record) Reason {
	var key []byte
	if s.prog != nil {
		out, err := rn.env.eval(s.prog, r)
		if err != nil {
			ls.evalErrors++
		}
		key = keyBytes(&rn.scratch, out)
	}
	now := s.now().UnixNano()
	s.mu.Lock()
	tat := &s.other
	if i, ok := s.index[string(key)]; ok {
		tat = &s.tats[i]
	} else {
		if len(s.tats) >= s.maxKeys && now-s.lastSweep >= int64(time.Second) {
			s.sweep(now)
		}
		if len(s.tats) < s.maxKeys {
			s.index[string(key)] = int32(len(s.tats))
			s.tats = append(s.tats, now)
			tat = &s.tats[len(s.tats)-1]
		} else {
			key = bytesOf(OtherKey)
		}
	}
	t := max(*tat, now)
	pass := t-now <= s.tolerance
	if pass {
		*tat = t + s.interval
	}
	s.mu.Unlock()
	if !pass {
		s.counts.add(key)
		return ReasonThrottle
	}
	return ReasonNone
}

// sweep forgets the keys whose state is as good as new.
func (s *throttleStep) sweep(now int64) {
	s.lastSweep = now
	index := make(map[string]int32, len(s.index))
	tats := s.tats[:0]
	for k, i := range s.index {
		if t := s.tats[i]; t > now {
			index[k] = int32(len(tats))
			tats = append(tats, t)
		}
	}
	s.index, s.tats = index, tats
}

// SampleConfig keeps 1 record in Rate, chosen by a hash of a key: the same
// key gives the same decision in every replay and on every agent.
type SampleConfig struct {
	Common `koanf:",squash"`
	Rate   int `koanf:"rate"`
	// Key is an expression (e.g. attrs["trace_id"], so that a trace is
	// kept whole or not at all); empty, or a key that is nil for a
	// record, hashes the body.
	Key string `koanf:"key"`
}

func (c *SampleConfig) typeName() string { return "sample" }

// Validate checks the keys.
func (c *SampleConfig) Validate() error {
	var errs errorList
	if c.Rate < 1 {
		errs.add("rate", fmt.Sprintf("%d: want N of keep 1 in N, at least 1", c.Rate))
	}
	if c.Key != "" {
		validateExpr("key", c.Key, false, &errs)
	}
	validateCommon(&c.Common, &errs)
	return errs.err()
}

type sampleStep struct {
	prog *program
	rate uint64
}

func (c *SampleConfig) build(b *builder) step {
	s := &sampleStep{rate: uint64(c.Rate)}
	if c.Key != "" {
		s.prog = b.expr("key", c.Key, false)
	}
	return s
}

func (s *sampleStep) run(rn *Runner, ls *localStats, r *Record) Reason {
	key := r.Body
	if s.prog != nil {
		out, err := rn.env.eval(s.prog, r)
		if err != nil {
			ls.evalErrors++
		}
		if out != nil {
			key = keyBytes(&rn.scratch, out)
		}
	}
	if sampleHash(key)%s.rate != 0 {
		return ReasonSample
	}
	return ReasonNone
}

// sampleHash is FNV-1a (64 bit) of the key, then MurmurHash3's 64-bit
// finalizer so that its low bits are as mixed as its high ones. It is
// fixed: changing it would change which records every agent keeps.
func sampleHash(b []byte) uint64 {
	h := uint64(14695981039346656037)
	for _, c := range b {
		h ^= uint64(c)
		h *= 1099511628211
	}
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}
