package component

import (
	"math"
	"sync/atomic"
)

// MetricType is how Prometheus exposes a metric.
type MetricType int

// Metric types.
const (
	Counter MetricType = iota
	Gauge
	HistogramType
)

// Desc is one metric of the vocabulary: every component of a kind that
// reports it uses this name, help and these label keys (besides name and
// type, which the agent adds).
type Desc struct {
	Name   string // without capstan_<kind>_
	Help   string
	Type   MetricType
	Labels []string
}

// Metric is one value a component reports at a scrape. Name is a Desc of
// the component's kind; LabelValues follow the Desc's Labels.
type Metric struct {
	Name        string
	Value       float64
	LabelValues []string
	Histogram   *HistogramSnapshot // for HistogramType
}

// MetricSource is implemented by components that report metrics.
type MetricSource interface {
	Metrics() []Metric
}

// C is a counter or gauge metric without labels.
func C(name string, v uint64) Metric { return Metric{Name: name, Value: float64(v)} }

// G is a gauge metric from a signed value.
func G(name string, v int64) Metric { return Metric{Name: name, Value: float64(v)} }

// L is a metric with label values.
func L(name string, v uint64, labels ...string) Metric {
	return Metric{Name: name, Value: float64(v), LabelValues: labels}
}

// Vocabulary is the metrics components of a kind may report. The agent
// exposes them as capstan_<kind>_<name> with labels name, type and the
// Desc's own; a component reporting another name is a bug a test catches.
func Vocabulary(k Kind) []Desc {
	if k == KindInput {
		return inputVocabulary
	}
	return outputVocabulary
}

var inputVocabulary = []Desc{
	{"records_total", "Records the input appended to the spool (batches the spool already held included).", Counter, nil},
	{"bytes_total", "Bytes the input read from its sources.", Counter, nil},
	{"batches_total", "Batches the input appended.", Counter, nil},
	{"duplicate_batches_total", "Batches the spool already held (a source re-read or re-sent after a crash), dropped by its deduplication.", Counter, nil},
	{"truncated_records_total", "Records cut at the input's size limit (the rest of the line or message skipped).", Counter, nil},
	{"parse_errors_total", "Records that did not parse as the input's format or parser, kept raw and flagged.", Counter, nil},
	{"dropped_records_total", "Records the input could not keep, by reason.", Counter, []string{"reason"}},
	{"errors_total", "Errors the input met and logged, by reason.", Counter, []string{"reason"}},
	{"connections", "Connections open now.", Gauge, nil},
	{"connections_accepted_total", "Connections accepted.", Counter, nil},
	{"connections_closed_total", "Connections the input closed, by reason.", Counter, []string{"reason"}},
	{"files_tracked", "Files the input knows.", Gauge, nil},
	{"files_open", "Files the input holds open.", Gauge, nil},
	{"unread_bytes", "Bytes written to tracked files that the input has not read yet (it grows while the spool is full).", Gauge, nil},
	{"files_unreadable", "Files matching the input's globs that it cannot open (each warned about once until it changes).", Gauge, nil},
	{"file_events_total", "Rotations the input followed, by event.", Counter, []string{"event"}},
	{"frames_total", "Protocol frames the input stored and acknowledged.", Counter, nil},
}

var outputVocabulary = []Desc{
	{"records_total", "Records the output delivered (acknowledged by the destination).", Counter, nil},
	{"bytes_total", "Bytes the output delivered, as sent.", Counter, nil},
	{"requests_total", "Requests (or frames, or writes) the output sent.", Counter, nil},
	{"retries_total", "Requests or records the output sent again after a failure.", Counter, nil},
	{"failures_total", "Failed sends, by reason.", Counter, []string{"reason"}},
	{"dead_letter_records_total", "Records the destination refused for good, sent to the dead letter, by reason.", Counter, []string{"reason"}},
	{"duplicates_avoided_total", "Records the destination already held (a replay it recognised and did not store twice).", Counter, nil},
	{"damaged_batches_total", "Batches of the spool that failed their check and were skipped, logged.", Counter, nil},
	{"connections", "Connections to the destination open now.", Gauge, nil},
	{"reconnects_total", "Connections that ended in an error and were made again.", Counter, nil},
	{"streams", "Distinct streams (label sets) the output has sent to since it started (loki).", Gauge, nil},
	{"label_overflow_records_total", "Records whose label set would have passed max_streams, sent to the overflow stream (loki).", Counter, nil},
	{"in_flight_bytes", "Bytes sent and not yet acknowledged.", Gauge, nil},
	{"in_flight_requests", "Requests sent and not yet answered.", Gauge, nil},
	{"request_duration_seconds", "Time from sending a request to its answer.", HistogramType, nil},
	{"batch_records", "Records per request.", HistogramType, nil},
	{"batch_bytes", "Bytes per request, as encoded.", HistogramType, nil},
}

// Histogram counts observations into fixed buckets without locks.
type Histogram struct {
	bounds []float64
	counts []atomic.Uint64 // len(bounds)+1: the last is +Inf
	sum    atomic.Uint64   // float64 bits
	n      atomic.Uint64
}

// NewHistogram makes a histogram with upper bounds, ascending.
func NewHistogram(bounds ...float64) *Histogram {
	return &Histogram{bounds: bounds, counts: make([]atomic.Uint64, len(bounds)+1)}
}

// DurationBuckets are the bounds of request_duration_seconds.
var DurationBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

// SizeBuckets are the bounds of batch_records.
var SizeBuckets = []float64{1, 10, 100, 500, 1000, 2000, 5000, 10000, 50000}

// ByteBuckets are the bounds of batch_bytes.
var ByteBuckets = []float64{1 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20, 4 << 20, 16 << 20, 64 << 20}

// Observe counts v.
func (h *Histogram) Observe(v float64) {
	i := 0
	for i < len(h.bounds) && v > h.bounds[i] {
		i++
	}
	h.counts[i].Add(1)
	h.n.Add(1)
	for {
		old := h.sum.Load()
		if h.sum.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+v)) {
			return
		}
	}
}

// HistogramSnapshot is a histogram as read at a scrape: cumulative counts
// per upper bound.
type HistogramSnapshot struct {
	Bounds     []float64
	Cumulative []uint64
	Count      uint64
	Sum        float64
}

// Snapshot reads the histogram.
func (h *Histogram) Snapshot() *HistogramSnapshot {
	s := &HistogramSnapshot{Bounds: h.bounds, Cumulative: make([]uint64, len(h.bounds))}
	var c uint64
	for i := range h.bounds {
		c += h.counts[i].Load()
		s.Cumulative[i] = c
	}
	s.Count = c + h.counts[len(h.bounds)].Load()
	s.Sum = math.Float64frombits(h.sum.Load())
	return s
}

// Metric is the histogram as a Metric named name.
func (h *Histogram) Metric(name string) Metric {
	return Metric{Name: name, Histogram: h.Snapshot()}
}
