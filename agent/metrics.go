package agent

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/capstan-agent/capstan/component"
	"github.com/capstan-agent/capstan/inputs/process"
	"github.com/capstan-agent/capstan/spool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// newMetrics makes the agent's registry: Go and process metrics, and one
// collector that reads the spool, the outputs' checkpoints and the components
// at scrape time, so removed components vanish and nothing is global.
func newMetrics(a *Agent) *prometheus.Registry {
	r := prometheus.NewRegistry()
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	r.MustRegister(&collector{a: a, vocab: newVocabulary()})
	return r
}

type collector struct {
	a     *Agent
	vocab vocabulary
}

var (
	partLabels = []string{"stream", "partition"}

	descSpoolBytes      = prometheus.NewDesc("capstan_spool_bytes", "Bytes of segments held by a partition.", partLabels, nil)
	descSpoolSegments   = prometheus.NewDesc("capstan_spool_segments", "Segments of a partition.", partLabels, nil)
	descSpoolNext       = prometheus.NewDesc("capstan_spool_next_offset", "Offset the next record appended to a partition gets.", partLabels, nil)
	descSpoolOldest     = prometheus.NewDesc("capstan_spool_oldest_offset", "First offset still held by a partition.", partLabels, nil)
	descSpoolProducers  = prometheus.NewDesc("capstan_spool_producers", "Producers whose sequence a partition tracks.", partLabels, nil)
	descSpoolBlocked    = prometheus.NewDesc("capstan_spool_blocked_appends", "Appends waiting for space (when_full: block).", partLabels, nil)
	descSpoolRecords    = prometheus.NewDesc("capstan_spool_appended_records_total", "Records appended since start.", partLabels, nil)
	descSpoolBatches    = prometheus.NewDesc("capstan_spool_appended_batches_total", "Batches appended since start.", partLabels, nil)
	descSpoolAppBytes   = prometheus.NewDesc("capstan_spool_appended_bytes_total", "Bytes appended since start.", partLabels, nil)
	descSpoolDups       = prometheus.NewDesc("capstan_spool_duplicate_batches_total", "Batches dropped because their producer sequence was already stored.", partLabels, nil)
	descSpoolDropSegs   = prometheus.NewDesc("capstan_spool_dropped_segments_total", "Unshipped segments deleted by when_full: drop_oldest.", partLabels, nil)
	descSpoolDropRecs   = prometheus.NewDesc("capstan_spool_dropped_records_total", "Unshipped records deleted by when_full: drop_oldest.", partLabels, nil)
	descSpoolBlockedNow = prometheus.NewDesc("capstan_spool_blocked", "1 while a partition is full and appends wait for space (when_full: block).", partLabels, nil)
	descSpoolBlockedSec = prometheus.NewDesc("capstan_spool_blocked_seconds_total", "Time a partition spent full with appends waiting.", partLabels, nil)
	descSpoolBlockedB   = prometheus.NewDesc("capstan_spool_blocked_bytes", "Bytes of appends waiting for space now.", partLabels, nil)
	descSpoolBudget     = prometheus.NewDesc("capstan_spool_budget_bytes", "A partition's share of its stream's max_bytes; 0 when the stream has no bound.", partLabels, nil)
	descSpoolFsyncs     = prometheus.NewDesc("capstan_spool_fsyncs_total", "fdatasync calls on a partition's segments.", partLabels, nil)
	descSpoolFsyncErrs  = prometheus.NewDesc("capstan_spool_fsync_errors_total", "fdatasync calls that failed (each logged).", partLabels, nil)
	descSpoolFsyncSec   = prometheus.NewDesc("capstan_spool_fsync_seconds_total", "Time spent in fdatasync on a partition's segments.", partLabels, nil)
	descSpoolFsyncMax   = prometheus.NewDesc("capstan_spool_fsync_max_seconds", "The longest fdatasync of a partition since start.", partLabels, nil)
	descRecoveryCut     = prometheus.NewDesc("capstan_spool_recovery_cut_bytes", "Bytes cut from a torn tail when the partition was opened.", partLabels, nil)
	descOutputLag       = prometheus.NewDesc("capstan_output_lag_records", "Records of a partition past the output's committed checkpoint.", []string{"output", "stream", "partition"}, nil)
	descOutputLagBytes  = prometheus.NewDesc("capstan_output_lag_bytes", "Spool bytes of a partition past the output's committed checkpoint.", []string{"output", "stream", "partition"}, nil)
	descComponentUp     = prometheus.NewDesc("capstan_component_up", "1 while an input or output runs and is ready (running or degraded), 0 while it starts, restarts or is stopped.", []string{"kind", "name", "type"}, nil)
	descComponentState  = prometheus.NewDesc("capstan_component_state", "1 for the state an input or output is in (starting, running, degraded, restarting, stopped), 0 for the others.", []string{"kind", "name", "type", "state"}, nil)
	descComponentRestar = prometheus.NewDesc("capstan_component_restarts_total", "Times an input or output failed and was restarted.", []string{"kind", "name", "type"}, nil)
	procLabels          = []string{"input", "name", "type"}
	descProcIn          = prometheus.NewDesc("capstan_processor_records_in_total", "Records a processor was given.", procLabels, nil)
	descProcOut         = prometheus.NewDesc("capstan_processor_records_out_total", "Records a processor passed on (skipped ones included).", procLabels, nil)
	descProcSkipped     = prometheus.NewDesc("capstan_processor_skipped_records_total", "Records a processor passed untouched because its if was false.", procLabels, nil)
	descProcDropped     = prometheus.NewDesc("capstan_processor_dropped_records_total", "Records a processor dropped, by reason.", append(procLabels, "reason"), nil)
	descProcParseErr    = prometheus.NewDesc("capstan_processor_parse_errors_total", "Records a parser could not parse (kept and flagged unless on_error says drop).", procLabels, nil)
	descProcEvalErr     = prometheus.NewDesc("capstan_processor_eval_errors_total", "Expressions that failed at run time (the record kept as if the processor were not there).", procLabels, nil)
	descProcRedacted    = prometheus.NewDesc("capstan_processor_redacted_values_total", "Values a redact processor changed or dropped.", procLabels, nil)
	descProcRouteMiss   = prometheus.NewDesc("capstan_processor_route_misses_total", "Records a route sent to its default because the expression named no declared stream.", procLabels, nil)
	descProcThrottled   = prometheus.NewDesc("capstan_processor_throttled_records_total", "Records a throttle dropped, by key (the busiest keys; the rest as other).", append(procLabels, "key"), nil)
	descInputDemoted    = prometheus.NewDesc("capstan_input_processed_demoted_values_total", "Typed values from processors kept as strings because a batch could not hold them as typed.", []string{"name", "type"}, nil)
	descReady           = prometheus.NewDesc("capstan_ready", "1 when the agent is ready (as /readyz).", nil, nil)
)

// vocabulary is the Desc of every metric a component may report, by kind
// and name (component.Vocabulary).
type vocabulary map[component.Kind]map[string]vocab

type vocab struct {
	desc *prometheus.Desc
	typ  component.MetricType
	n    int // label values besides name and type
}

func newVocabulary() vocabulary {
	v := vocabulary{}
	for _, k := range []component.Kind{component.KindInput, component.KindOutput} {
		v[k] = map[string]vocab{}
		for _, d := range component.Vocabulary(k) {
			labels := append([]string{"name", "type"}, d.Labels...)
			v[k][d.Name] = vocab{prometheus.NewDesc("capstan_"+string(k)+"_"+d.Name, d.Help, labels, nil), d.Type, len(d.Labels)}
		}
	}
	return v
}

// Describe sends every Desc the collector may send, so that the registry
// checks names, help and labels once (a checked collector).
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descSpoolBytes, descSpoolSegments, descSpoolNext, descSpoolOldest, descSpoolProducers,
		descSpoolBlocked, descSpoolRecords, descSpoolBatches, descSpoolAppBytes, descSpoolDups, descSpoolDropSegs,
		descSpoolDropRecs, descSpoolBlockedNow, descSpoolBlockedSec, descSpoolBlockedB, descSpoolBudget, descSpoolFsyncs,
		descSpoolFsyncErrs, descSpoolFsyncSec, descSpoolFsyncMax, descRecoveryCut, descOutputLag, descOutputLagBytes, descComponentUp, descComponentState,
		descComponentRestar, descReady, descProcIn, descProcOut, descProcSkipped, descProcDropped, descProcParseErr,
		descProcEvalErr, descProcRedacted, descProcRouteMiss, descProcThrottled, descInputDemoted} {
		ch <- d
	}
	for _, byName := range c.vocab {
		for _, v := range byName {
			ch <- v.desc
		}
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	v := c.a.view.Load()
	ready, _ := c.a.readiness()
	ch <- prometheus.MustNewConstMetric(descReady, prometheus.GaugeValue, b2f(ready))
	if v.spool == nil || v.stopping {
		return
	}
	for _, st := range v.streams {
		for _, p := range st.Partitions() {
			s := p.Stats()
			l := []string{s.Stream, strconv.Itoa(s.Partition)}
			gauge := func(d *prometheus.Desc, x float64) {
				ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, x, l...)
			}
			counter := func(d *prometheus.Desc, x uint64) {
				ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(x), l...)
			}
			gauge(descSpoolBytes, float64(s.Bytes))
			gauge(descSpoolSegments, float64(s.Segments))
			gauge(descSpoolNext, float64(s.NextOffset))
			gauge(descSpoolOldest, float64(s.OldestOffset))
			gauge(descSpoolProducers, float64(s.Producers))
			gauge(descSpoolBlocked, float64(s.BlockedAppends))
			gauge(descRecoveryCut, float64(s.RecoveryBytesCut))
			counter(descSpoolRecords, s.AppendedRecords)
			counter(descSpoolBatches, s.AppendedBatches)
			counter(descSpoolAppBytes, s.AppendedBytes)
			counter(descSpoolDups, s.Duplicates)
			counter(descSpoolDropSegs, s.DroppedSegments)
			counter(descSpoolDropRecs, s.DroppedRecords)
			gauge(descSpoolBlockedNow, b2f(s.Blocked))
			ch <- prometheus.MustNewConstMetric(descSpoolBlockedSec, prometheus.CounterValue, s.BlockedSeconds, l...)
			gauge(descSpoolBlockedB, float64(s.BlockedBytes))
			gauge(descSpoolBudget, float64(s.BudgetBytes))
			counter(descSpoolFsyncs, s.FsyncCount)
			counter(descSpoolFsyncErrs, s.FsyncErrors)
			ch <- prometheus.MustNewConstMetric(descSpoolFsyncSec, prometheus.CounterValue, s.FsyncSeconds, l...)
			gauge(descSpoolFsyncMax, s.FsyncMaxSeconds)
		}
	}
	for _, u := range v.outputs {
		c.outputLag(ch, v.spool, u)
	}
	for _, u := range append(append([]*unit{}, v.inputs...), v.outputs...) {
		l := []string{string(u.id.Kind), u.id.Name, u.id.Type}
		st := u.state().state
		up := st == component.Running || st == component.Degraded
		ch <- prometheus.MustNewConstMetric(descComponentUp, prometheus.GaugeValue, b2f(up), l...)
		for _, s := range component.States {
			if s == component.Unavailable {
				continue
			}
			ch <- prometheus.MustNewConstMetric(descComponentState, prometheus.GaugeValue, b2f(st == s), append(l, string(s))...)
		}
		ch <- prometheus.MustNewConstMetric(descComponentRestar, prometheus.CounterValue, float64(u.restarts.Load()), l...)
		if src, ok := u.component().(component.MetricSource); ok {
			c.componentMetrics(ch, u, src.Metrics())
		}
		if u.chain != nil {
			processorMetrics(ch, u)
		}
	}
}

// processorMetrics exposes an input's processors, one series per processor.
func processorMetrics(ch chan<- prometheus.Metric, u *unit) {
	counter := func(d *prometheus.Desc, v uint64, l ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), l...)
	}
	for _, p := range u.chain.Processors() {
		l := []string{u.id.Name, p.Name, p.Type}
		s := p.Stats
		counter(descProcIn, s.In.Load(), l...)
		counter(descProcOut, s.Out.Load(), l...)
		counter(descProcSkipped, s.Skipped.Load(), l...)
		for _, r := range process.Reasons() {
			counter(descProcDropped, s.Dropped[r].Load(), append(l, r.String())...)
		}
		counter(descProcParseErr, s.ParseErrors.Load(), l...)
		counter(descProcEvalErr, s.EvalErrors.Load(), l...)
		counter(descProcRedacted, s.Redacted.Load(), l...)
		counter(descProcRouteMiss, s.RouteMisses.Load(), l...)
		if p.DroppedByKey != nil {
			for _, kc := range p.DroppedByKey() {
				counter(descProcThrottled, kc.Dropped, append(l, kc.Key)...)
			}
		}
	}
	counter(descInputDemoted, u.appendStats.Demoted.Load(), u.id.Name, u.id.Type)
}

func (c *collector) outputLag(ch chan<- prometheus.Metric, sp *spool.Spool, u *unit) {
	committed, err := sp.Checkpoints().Load(u.id.Name)
	if err != nil && !errors.Is(err, spool.ErrPreviousCheckpoint) {
		return
	}
	for _, st := range u.streams {
		for _, p := range st.Partitions() {
			next := p.NextOffset()
			cp, ok := committed[spool.Key{Stream: st.Name(), Partition: p.ID()}]
			if !ok {
				cp = p.OldestOffset()
			}
			lag, lagBytes := 0.0, 0.0
			if next > cp {
				lag, lagBytes = float64(next-cp), float64(p.BytesFrom(cp))
			}
			ch <- prometheus.MustNewConstMetric(descOutputLag, prometheus.GaugeValue, lag, u.id.Name, st.Name(), strconv.Itoa(p.ID()))
			ch <- prometheus.MustNewConstMetric(descOutputLagBytes, prometheus.GaugeValue, lagBytes, u.id.Name, st.Name(), strconv.Itoa(p.ID()))
		}
	}
}

// componentMetrics exposes a component's own metrics as
// capstan_<kind>_<name>{name="...", type="...", ...}. A name outside the
// vocabulary, or with the wrong number of label values, is a bug: it is
// sent as an invalid metric, which fails the scrape's checks (tests) but
// not the scrape (ContinueOnError).
func (c *collector) componentMetrics(ch chan<- prometheus.Metric, u *unit, ms []component.Metric) {
	for _, m := range ms {
		v, ok := c.vocab[u.id.Kind][m.Name]
		if !ok {
			d := prometheus.NewDesc("capstan_"+string(u.id.Kind)+"_"+m.Name, "not in the vocabulary", nil, nil)
			ch <- prometheus.NewInvalidMetric(d, fmt.Errorf("%s %s reports %q, which is not in the %s vocabulary", u.id.Kind, u.id.Name, m.Name, u.id.Kind))
			continue
		}
		values := append([]string{u.id.Name, u.id.Type}, m.LabelValues...)
		var metric prometheus.Metric
		var err error
		switch v.typ {
		case component.HistogramType:
			h := m.Histogram
			if h == nil {
				err = fmt.Errorf("%s: histogram without a snapshot", m.Name)
				break
			}
			buckets := make(map[float64]uint64, len(h.Bounds))
			for i, b := range h.Bounds {
				buckets[b] = h.Cumulative[i]
			}
			metric, err = prometheus.NewConstHistogram(v.desc, h.Count, h.Sum, buckets, values...)
		case component.Gauge:
			metric, err = prometheus.NewConstMetric(v.desc, prometheus.GaugeValue, m.Value, values...)
		default:
			metric, err = prometheus.NewConstMetric(v.desc, prometheus.CounterValue, m.Value, values...)
		}
		if err != nil {
			metric = prometheus.NewInvalidMetric(v.desc, err)
		}
		ch <- metric
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
