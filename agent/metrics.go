package agent

import (
	"sort"
	"strconv"

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
	r.MustRegister(&collector{a: a})
	return r
}

type collector struct{ a *Agent }

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
	descRecoveryCut     = prometheus.NewDesc("capstan_spool_recovery_cut_bytes", "Bytes cut from a torn tail when the partition was opened.", partLabels, nil)
	descOutputLag       = prometheus.NewDesc("capstan_output_lag_records", "Records of a partition past the output's committed checkpoint.", []string{"output", "stream", "partition"}, nil)
	descOutputLagBytes  = prometheus.NewDesc("capstan_output_lag_bytes", "Spool bytes of a partition past the output's committed checkpoint.", []string{"output", "stream", "partition"}, nil)
	descComponentUp     = prometheus.NewDesc("capstan_component_up", "1 while an input or output is running, 0 while it is down or not available in this build.", []string{"kind", "name", "type"}, nil)
	descComponentRestar = prometheus.NewDesc("capstan_component_restarts_total", "Times an input or output failed and was restarted.", []string{"kind", "name", "type"}, nil)
	descReady           = prometheus.NewDesc("capstan_ready", "1 when the agent is ready (as /readyz).", nil, nil)
)

// Describe sends nothing: components report metrics the agent cannot know
// in advance, so this is an unchecked collector.
func (c *collector) Describe(chan<- *prometheus.Desc) {}

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
		}
	}
	for _, u := range v.outputs {
		if u.available {
			c.outputLag(ch, v.spool, u)
		}
	}
	for _, u := range append(append([]*unit{}, v.inputs...), v.outputs...) {
		l := []string{u.kind, u.name, u.typ}
		ch <- prometheus.MustNewConstMetric(descComponentUp, prometheus.GaugeValue, b2f(u.up.Load()), l...)
		ch <- prometheus.MustNewConstMetric(descComponentRestar, prometheus.CounterValue, float64(u.restarts.Load()), l...)
		if src, ok := u.component().(MetricSource); ok {
			componentMetrics(ch, u, src.Metrics())
		}
	}
}

func (c *collector) outputLag(ch chan<- prometheus.Metric, sp *spool.Spool, u *unit) {
	committed, err := sp.Checkpoints().Load(u.name)
	if err != nil {
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
			ch <- prometheus.MustNewConstMetric(descOutputLag, prometheus.GaugeValue, lag, u.name, st.Name(), strconv.Itoa(p.ID()))
			ch <- prometheus.MustNewConstMetric(descOutputLagBytes, prometheus.GaugeValue, lagBytes, u.name, st.Name(), strconv.Itoa(p.ID()))
		}
	}
}

// componentMetrics exposes a component's own metrics as
// capstan_<kind>_<name>{<kind>="...", type="...", ...}.
func componentMetrics(ch chan<- prometheus.Metric, u *unit, ms []Metric) {
	for _, m := range ms {
		keys := make([]string, 0, len(m.Labels))
		for k := range m.Labels {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		names := append([]string{u.kind, "type"}, keys...)
		values := []string{u.name, u.typ}
		for _, k := range keys {
			values = append(values, m.Labels[k])
		}
		help := m.Help
		if help == "" {
			help = "Reported by the " + u.typ + " " + u.kind + "."
		}
		d := prometheus.NewDesc("capstan_"+u.kind+"_"+m.Name, help, names, nil)
		t := prometheus.CounterValue
		if m.Gauge {
			t = prometheus.GaugeValue
		}
		metric, err := prometheus.NewConstMetric(d, t, m.Value, values...)
		if err != nil {
			metric = prometheus.NewInvalidMetric(d, err)
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
