package delivery

import (
	"sort"
	"sync"
	"sync/atomic"

	"github.com/capstan-agent/capstan/component"
)

// Stats are an engine's counters, safe to read while it runs.
type Stats struct {
	Records    atomic.Uint64 // delivered (acknowledged) records
	Bytes      atomic.Uint64 // bytes of requests the destination took
	Requests   atomic.Uint64 // sends (attempts)
	Retries    atomic.Uint64 // sends after the first of a request
	Duplicates atomic.Uint64 // records the destination already held
	Damaged    atomic.Uint64 // batches of the spool that did not decode
	InFlight   atomic.Int64  // bytes sent and not yet answered
	Requesting atomic.Int64  // requests sent and not yet answered

	failures reasons // failed sends by reason
	dead     reasons // dead-lettered records by reason

	duration *component.Histogram
	records  *component.Histogram
	bytes    *component.Histogram
}

func newStats() *Stats {
	return &Stats{
		duration: component.NewHistogram(component.DurationBuckets...),
		records:  component.NewHistogram(component.SizeBuckets...),
		bytes:    component.NewHistogram(component.ByteBuckets...),
	}
}

// Failures is the number of failed sends for reason.
func (s *Stats) Failures(reason string) uint64 { return s.failures.get(reason) }

// DeadLettered is the number of records dead-lettered for reason.
func (s *Stats) DeadLettered(reason string) uint64 { return s.dead.get(reason) }

// reasons counts by a reason label. Reasons are few (classes, not
// messages); the map is read at scrapes and written on failures only.
type reasons struct {
	mu sync.Mutex
	m  map[string]uint64
}

func (r *reasons) add(reason string, n uint64) {
	r.mu.Lock()
	if r.m == nil {
		r.m = map[string]uint64{}
	}
	r.m[reason] += n
	r.mu.Unlock()
}

func (r *reasons) get(reason string) uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.m[reason]
}

func (r *reasons) metrics(name string) []component.Metric {
	r.mu.Lock()
	defer r.mu.Unlock()
	keys := make([]string, 0, len(r.m))
	for k := range r.m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]component.Metric, 0, len(keys))
	for _, k := range keys {
		out = append(out, component.L(name, r.m[k], k))
	}
	return out
}

// metrics reports the counters in the output vocabulary.
func (s *Stats) metrics() []component.Metric {
	out := []component.Metric{
		component.C("records_total", s.Records.Load()),
		component.C("bytes_total", s.Bytes.Load()),
		component.C("requests_total", s.Requests.Load()),
		component.C("retries_total", s.Retries.Load()),
		component.C("duplicates_avoided_total", s.Duplicates.Load()),
		component.C("damaged_batches_total", s.Damaged.Load()),
		component.G("in_flight_bytes", s.InFlight.Load()),
		component.G("in_flight_requests", s.Requesting.Load()),
		s.duration.Metric("request_duration_seconds"),
		s.records.Metric("batch_records"),
		s.bytes.Metric("batch_bytes"),
	}
	out = append(out, s.failures.metrics("failures_total")...)
	return append(out, s.dead.metrics("dead_letter_records_total")...)
}
