package lokifake

import (
	"maps"
	"slices"
)

// StreamKey names a stream: its tenant and canonical labels.
type StreamKey struct {
	Tenant, Labels string
}

// Stats are the fake's counters. Stats() returns a copy.
type Stats struct {
	// Requests counts every request answered (or dropped by a fault),
	// RequestsByStatus by the status answered (0: reset or hung by a fault).
	Requests         int64
	RequestsByStatus map[int]int64
	// BytesReceived counts push bodies as sent; BytesDecoded the protobuf or
	// JSON they held, decompressed.
	BytesReceived, BytesDecoded int64
	// Received counts entries in decoded pushes; Stored those kept;
	// Duplicates those dropped silently as repeats of a stored (timestamp,
	// line); Refused the others, by Loki's discard reason (line_too_long,
	// too_far_behind, greater_than_max_sample_age, too_far_in_future,
	// invalid_labels, missing_labels, max_label_names_per_series,
	// label_name_too_long, label_value_too_long, duplicate_label_names,
	// disallowed_structured_metadata, structured_metadata_too_large,
	// structured_metadata_too_many, stream_limit, rate_limited).
	Received, Stored, Duplicates int64
	Refused                      map[string]int64
	// Streams counts the entries stored per stream.
	Streams map[StreamKey]int64
}

func (s *Stats) init() {
	s.RequestsByStatus = map[int]int64{}
	s.Refused = map[string]int64{}
	s.Streams = map[StreamKey]int64{}
}

// Stats returns a snapshot of the counters.
func (f *Fake) Stats() Stats {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.stats
	c.RequestsByStatus = maps.Clone(f.stats.RequestsByStatus)
	c.Refused = maps.Clone(f.stats.Refused)
	c.Streams = maps.Clone(f.stats.Streams)
	return c
}

// Tenants returns the tenants that have streams, sorted.
func (f *Fake) Tenants() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Sorted(maps.Keys(f.tenants))
}

// Streams returns a tenant's streams (canonical labels), sorted.
func (f *Fake) Streams(tenant string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := f.tenants[tenant]
	if t == nil {
		return nil
	}
	return slices.Sorted(maps.Keys(t.streams))
}

// Entries returns a stream's entries as a forward query returns them: by
// timestamp, entries with the same timestamp in arrival order. labels may
// be any spelling of the selector ({b="y",a="x"} finds {a="x", b="y"}).
// It is empty with StorageOff.
func (f *Fake) Entries(tenant, labels string) []Entry {
	key, err := Canonical(labels)
	if err != nil {
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	t := f.tenants[tenant]
	if t == nil || t.streams[key] == nil {
		return nil
	}
	out := slices.Clone(t.streams[key].entries)
	slices.SortStableFunc(out, func(a, b Entry) int { return a.Timestamp.Compare(b.Timestamp) })
	return out
}

// Count returns the number of entries stored in a stream (kept also with
// StorageOff).
func (f *Fake) Count(tenant, labels string) int64 {
	key, err := Canonical(labels)
	if err != nil {
		return 0
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if t := f.tenants[tenant]; t != nil && t.streams[key] != nil {
		return t.streams[key].count
	}
	return 0
}

// Lines returns the lines of a stream's entries in timestamp order, a
// shorthand for tests.
func (f *Fake) Lines(tenant, labels string) []string {
	es := f.Entries(tenant, labels)
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.Line
	}
	return out
}
