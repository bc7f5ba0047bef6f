package lokifake

import (
	"fmt"
	"hash/maphash"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/capstan-agent/capstan/shipper/internal/hashset"
)

// Entry is one log entry of a stream.
type Entry struct {
	Timestamp          time.Time // UTC
	Line               string
	StructuredMetadata []LabelPair // nil when none
}

type tenant struct {
	streams map[string]*stream
}

type stream struct {
	labels  string
	entries []Entry           // storage on: in arrival order
	byTS    map[int64][]int32 // storage on: entries by timestamp, for duplicates
	hashes  hashset.Set       // storage off: hashes of (timestamp, line)
	pending []uint64          // storage off: hashes added since the last lookup
	touched uint64            // what touch read, kept so that its loads stay
	highest time.Time
	count   int64
}

var seed = maphash.MakeSeed()

// entryHash hashes (timestamp, line): the line's hash plus the timestamp
// times an odd constant, through a bijective finalizer, so that one line at
// two timestamps never collides.
func entryHash(e *Entry) uint64 {
	h := maphash.String(seed, e.Line) + uint64(e.Timestamp.UnixNano())*0x9e3779b97f4a7c15
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	return h ^ h>>33
}

// duplicate reports whether the stream holds an entry with the same
// timestamp and line (structured metadata is not compared, as in Loki);
// h is entryHash(e) with storage off.
//
// With storage off, an entry newer than every stored one cannot repeat one:
// that needs no lookup, and the hashes of what is stored wait in pending,
// in order, until a lookup needs them (a stream fed in order, as an agent
// feeds it, then never probes the set, whose size is beyond the caches).
func (s *stream) duplicate(e *Entry, h uint64, off bool) bool {
	if off {
		if s.count == 0 || e.Timestamp.After(s.highest) {
			return false
		}
		for _, p := range s.pending {
			s.hashes.Add(p)
		}
		s.pending = s.pending[:0]
		return s.hashes.Has(h)
	}
	for _, i := range s.byTS[e.Timestamp.UnixNano()] {
		if s.entries[i].Line == e.Line {
			return true
		}
	}
	return false
}

// touchBatch is how many entries touch runs ahead of the lookups.
const touchBatch = 128

// touch returns the entries' hashes appended to hs, and has the set's slots
// of those that will be looked up (not newer than the stream's newest)
// fetched from memory together, so that the cache misses of a set of
// millions of hashes overlap instead of coming one after the other. Pending
// hashes are moved into the set first; nothing else changes.
func (s *stream) touch(es []Entry, hs []uint64) []uint64 {
	looked := false
	for i := range es {
		hs = append(hs, entryHash(&es[i]))
		looked = looked || s.count > 0 && !es[i].Timestamp.After(s.highest)
	}
	if !looked {
		return hs
	}
	for _, p := range s.pending {
		s.hashes.Add(p)
	}
	s.pending = s.pending[:0]
	// A loop of loads alone, so that many misses are in flight at once.
	var sink uint64
	for i, h := range hs {
		if s.count > 0 && !es[i].Timestamp.After(s.highest) {
			sink += s.hashes.Touch(h)
		}
	}
	s.touched += sink
	return hs
}

func (s *stream) add(e *Entry, h uint64, off bool) {
	if e.Timestamp.After(s.highest) {
		s.highest = e.Timestamp
	}
	s.count++
	if off {
		s.pending = append(s.pending, h)
		return
	}
	ts := e.Timestamp.UnixNano()
	s.byTS[ts] = append(s.byTS[ts], int32(len(s.entries)))
	s.entries = append(s.entries, *e)
}

// validated is a stream of the push after the distributor's checks.
type validated struct {
	labels  string // canonical
	entries []Entry
}

// refusals collects the distributor's refusals of one push.
type refusals struct {
	msgs  []string
	seen  map[string]bool
	limit int
}

func (r *refusals) add(msg string) {
	if len(r.msgs) >= r.limit || r.seen[msg] {
		return
	}
	if r.seen == nil {
		r.seen = map[string]bool{}
	}
	r.seen[msg] = true
	r.msgs = append(r.msgs, msg)
}

// ingest runs a decoded push through the distributor's validation and the
// ingester's per-stream checks, storing what passes, and returns Loki's
// answer. With rateLimited, validation runs and the push is then refused
// whole with Loki's ingestion rate limit answer.
func (f *Fake) ingest(tenantID string, req *pushRequest, rateLimited bool) (int, string) {
	o := &f.opts
	now := o.Now()
	refused := map[string]int64{}
	var bad refusals
	bad.limit = o.MaxReturnedErrors
	var valid []validated
	received := 0
	for i := range req.streams {
		s := &req.streams[i]
		received += len(s.entries)
		if len(s.entries) == 0 {
			continue
		}
		canonical, reason, msg := f.validateLabels(s.labels)
		if reason != "" {
			refused[reason] += int64(len(s.entries))
			bad.add(msg)
			continue
		}
		// The valid entries are kept in place, in order.
		v := validated{labels: canonical, entries: s.entries[:0]}
		for j := range s.entries {
			if reason, msg := f.validateEntry(canonical, &s.entries[j], now); reason != "" {
				refused[reason]++
				bad.add(msg)
				continue
			}
			v.entries = append(v.entries, s.entries[j])
		}
		if len(v.entries) > 0 {
			valid = append(valid, v)
		}
	}

	f.mu.Lock()
	defer f.mu.Unlock()
	f.stats.Received += int64(received)
	// Loki answers before the rate limiter when nothing survived validation.
	if rateLimited && len(valid) > 0 {
		lines, size := 0, 0
		for _, v := range valid {
			lines += len(v.entries)
			for _, e := range v.entries {
				size += len(e.Line)
			}
		}
		for k, n := range refused {
			f.stats.Refused[k] += n
		}
		f.stats.Refused["rate_limited"] += int64(lines)
		return http.StatusTooManyRequests, fmt.Sprintf("Ingestion rate limit exceeded for user %s (limit: %d bytes/sec) while attempting to ingest '%d' lines totaling '%d' bytes, reduce log volume or contact your Loki administrator to see if the limit can be increased", tenantID, 4<<20, lines, size)
	}
	t := f.tenants[tenantID]
	if t == nil {
		t = &tenant{streams: map[string]*stream{}}
		f.tenants[tenantID] = t
	}
	ingesterStatus, ingesterMsg := 0, ""
	for _, v := range valid {
		status, msg := f.push(t, tenantID, v, refused)
		if status != 0 && ingesterStatus == 0 {
			ingesterStatus, ingesterMsg = status, msg
		}
	}
	for k, n := range refused {
		f.stats.Refused[k] += n
	}
	switch {
	case ingesterStatus != 0:
		return ingesterStatus, ingesterMsg
	case len(bad.msgs) > 0:
		return http.StatusBadRequest, strings.Join(bad.msgs, "\n")
	}
	return http.StatusNoContent, ""
}

// push is the ingester's stream push: duplicates dropped, entries too far
// behind the stream's newest refused, the rest stored. It runs under f.mu.
func (f *Fake) push(t *tenant, tenantID string, v validated, refused map[string]int64) (int, string) {
	o := &f.opts
	s := t.streams[v.labels]
	if s == nil {
		if max := o.Limits.MaxStreamsPerTenant; max > 0 && len(t.streams) >= max {
			refused["stream_limit"] += int64(len(v.entries))
			return http.StatusTooManyRequests, fmt.Sprintf("Maximum active stream limit exceeded when trying to create stream %s, reduce the number of active streams (reduce labels or reduce label values), or contact your Loki administrator to see if the limit can be increased, user: '%s'", v.labels, tenantID)
		}
		s = &stream{labels: v.labels}
		if !o.StorageOff {
			s.byTS = map[int64][]int32{}
		}
		t.streams[v.labels] = s
	}
	type failed struct {
		ts     time.Time
		reason string
	}
	var fails []failed
	nfail, stored := 0, 0
	for i := range v.entries {
		e := &v.entries[i]
		if o.StorageOff && i%touchBatch == 0 {
			f.hashBuf = s.touch(v.entries[i:min(i+touchBatch, len(v.entries))], f.hashBuf[:0])
		}
		// Loki's order: an entry too far behind the newest is refused, even
		// if it was stored before; an accepted repeat is dropped silently
		// (Loki drops a repeat of the last line first, but the last accepted
		// line is never outside the window, so that check changes nothing).
		if cutoff := s.highest.Add(-o.OutOfOrderWindow); !s.highest.IsZero() && cutoff.After(e.Timestamp) {
			nfail++
			if len(fails) < o.MaxReturnedErrors {
				fails = append(fails, failed{e.Timestamp, fmt.Sprintf("entry too far behind, entry timestamp is: %s, oldest acceptable timestamp is: %s",
					e.Timestamp.Format(time.RFC3339), cutoff.Format(time.RFC3339))})
			}
			continue
		}
		var h uint64
		if o.StorageOff {
			h = f.hashBuf[i%touchBatch]
		}
		if s.duplicate(e, h, o.StorageOff) {
			f.stats.Duplicates++
			continue
		}
		s.add(e, h, o.StorageOff)
		stored++
	}
	if stored > 0 {
		f.stats.Stored += int64(stored)
		f.stats.Streams[StreamKey{tenantID, v.labels}] += int64(stored)
	}
	if nfail == 0 {
		return 0, ""
	}
	refused["too_far_behind"] += int64(nfail)
	var b strings.Builder
	for _, fl := range fails {
		fmt.Fprintf(&b, "entry with timestamp %s ignored, reason: '%s',\n", fl.ts.String(), fl.reason)
	}
	fmt.Fprintf(&b, "user '%s', total ignored: %d out of %d for stream: %s", tenantID, nfail, len(v.entries), v.labels)
	return http.StatusBadRequest, b.String()
}

// serviceNameSources are the labels Loki 3 takes service_name from.
var serviceNameSources = []string{"service_name", "service", "app", "application", "name", "app_kubernetes_io_name", "container", "container_name", "component", "workload", "job"}

// validateLabels parses and checks a stream's labels as the distributor
// does; a non-empty reason refuses the whole stream.
func (f *Fake) validateLabels(raw string) (canonical, reason, msg string) {
	lim := &f.opts.Limits
	ls, err := parseLabels(raw)
	if err != nil {
		return "", "invalid_labels", fmt.Sprintf("Error parsing labels '%s' with error: %s", raw, err)
	}
	if len(ls) == 0 {
		return "", "missing_labels", "error at least one label pair is required per stream"
	}
	if f.opts.DiscoverServiceName && !slices.ContainsFunc(ls, func(l LabelPair) bool { return l.Name == "service_name" }) {
		value := "unknown_service"
		for _, src := range serviceNameSources {
			if i := slices.IndexFunc(ls, func(l LabelPair) bool { return l.Name == src }); i >= 0 {
				value = ls[i].Value
				break
			}
		}
		ls = finish(append(ls, LabelPair{"service_name", value}))
	}
	n := len(ls)
	if slices.ContainsFunc(ls, func(l LabelPair) bool { return l.Name == "service_name" }) {
		n-- // Loki does not count the label it may add itself
	}
	if max := lim.MaxLabelNamesPerSeries; max > 0 && n > max {
		return "", "max_label_names_per_series", fmt.Sprintf("entry for stream '%s' has %d label names; limit %d", raw, n, max)
	}
	for i, l := range ls {
		switch {
		case lim.MaxLabelNameLength > 0 && len(l.Name) > lim.MaxLabelNameLength:
			return "", "label_name_too_long", fmt.Sprintf("stream '%s' has label name too long: '%s'", raw, l.Name)
		case lim.MaxLabelValueLength > 0 && len(l.Value) > lim.MaxLabelValueLength:
			return "", "label_value_too_long", fmt.Sprintf("stream '%s' has label value too long: '%s'", raw, l.Value)
		case i > 0 && ls[i-1].Name == l.Name:
			return "", "duplicate_label_names", fmt.Sprintf("stream '%s' has duplicate label name: '%s'", raw, l.Name)
		}
	}
	return formatLabels(ls), "", ""
}

// validateEntry applies the distributor's per-entry checks, in Loki's order.
func (f *Fake) validateEntry(labels string, e *Entry, now time.Time) (reason, msg string) {
	lim := &f.opts.Limits
	if !lim.AcceptOldSamples && lim.RejectOldSamplesMaxAge > 0 {
		if oldest := now.Add(-lim.RejectOldSamplesMaxAge); e.Timestamp.Before(oldest) {
			return "greater_than_max_sample_age", fmt.Sprintf("entry for stream '%s' has timestamp too old: %s, oldest acceptable timestamp is: %s",
				labels, e.Timestamp.Format(time.RFC3339), oldest.UTC().Format(time.RFC3339))
		}
	}
	if lim.CreationGracePeriod >= 0 && e.Timestamp.After(now.Add(lim.CreationGracePeriod)) {
		return "too_far_in_future", fmt.Sprintf("entry for stream '%s' has timestamp too new: %s", labels, e.Timestamp.Format(time.RFC3339))
	}
	if max := lim.MaxLineSize; max > 0 && len(e.Line) > max {
		return "line_too_long", fmt.Sprintf("Max entry size '%d' bytes exceeded for stream '%s' while adding an entry with length '%d' bytes", max, labels, len(e.Line))
	}
	if len(e.StructuredMetadata) == 0 {
		return "", ""
	}
	if lim.DisallowStructuredMetadata {
		return "disallowed_structured_metadata", fmt.Sprintf("stream '%s' includes structured metadata, but this feature is disallowed. Please see `limits_config.allow_structured_metadata` or contact your Loki administrator to enable it.", labels)
	}
	size := 0
	for _, p := range e.StructuredMetadata {
		size += len(p.Name) + len(p.Value)
	}
	if max := lim.MaxStructuredMetadataSize; max > 0 && size > max {
		return "structured_metadata_too_large", fmt.Sprintf("stream '%s' has structured metadata too large: '%d' bytes, limit: '%d' bytes. Please see `limits_config.max_structured_metadata_size` or contact your Loki administrator to increase it.", labels, size, max)
	}
	if max := lim.MaxStructuredMetadataEntries; max > 0 && len(e.StructuredMetadata) > max {
		return "structured_metadata_too_many", fmt.Sprintf("stream '%s' has too many structured metadata labels: '%d', limit: '%d'. Please see `limits_config.max_structured_metadata_entries_count` or contact your Loki administrator to increase it.", labels, len(e.StructuredMetadata), max)
	}
	return "", ""
}
