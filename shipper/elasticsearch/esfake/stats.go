package esfake

import "maps"

// Stats are the fake's counters. Stats() returns a copy.
type Stats struct {
	// Requests counts every HTTP request answered (or dropped by a fault),
	// RequestsByStatus by the status answered (0: reset or hung by a fault).
	Requests         int64
	RequestsByStatus map[int]int64
	// BytesReceived counts bulk bodies as they came off the wire
	// (compressed); BytesDecoded the same bodies after decompression.
	BytesReceived int64
	BytesDecoded  int64
	// Items counts bulk items answered, ItemsByStatus by item status.
	Items         int64
	ItemsByStatus map[int]int64
	// Created, Updated, Deleted and Noops count successful item results.
	Created, Updated, Deleted, Noops int64
	// Conflicts counts creates of an existing _id answered 409
	// version_conflict_engine_exception (the replays an exactly-once
	// output expects).
	Conflicts int64
	// Docs is the number of live documents per index or data stream name.
	Docs map[string]int64
}

func (s *Stats) init() {
	s.RequestsByStatus = map[int]int64{}
	s.ItemsByStatus = map[int]int64{}
	s.Docs = map[string]int64{}
}

func (s *Stats) clone() Stats {
	c := *s
	c.RequestsByStatus = maps.Clone(s.RequestsByStatus)
	c.ItemsByStatus = maps.Clone(s.ItemsByStatus)
	c.Docs = maps.Clone(s.Docs)
	return c
}

// countItem runs under Fake.mu. The item's status and its index's
// document count are counted by the caller, itemCounts, once a request.
func (s *Stats) countItem(r *result) {
	s.Items++
	switch {
	case r.err != nil:
		if r.exists {
			s.Conflicts++
		}
	case r.result == "created":
		s.Created++
	case r.result == "updated":
		s.Updated++
	case r.result == "deleted":
		s.Deleted++
	case r.result == "noop":
		s.Noops++
	}
}

// itemCounts gathers a request's items by status and the indices they
// touched, so that the maps of Stats are written once a request rather
// than once an item.
type itemCounts struct {
	status  [600]int64 // HTTP statuses, 100–599
	other   map[int]int64
	indices []*index
}

func (c *itemCounts) add(status int, ix *index) {
	if status >= 0 && status < len(c.status) {
		c.status[status]++
	} else {
		if c.other == nil {
			c.other = map[int]int64{}
		}
		c.other[status]++
	}
	if ix != nil && (len(c.indices) == 0 || c.indices[len(c.indices)-1] != ix) {
		c.indices = append(c.indices, ix)
	}
}

// flush writes the counts into s (under Fake.mu): the statuses, and each
// touched index's live document count as it is now.
func (c *itemCounts) flush(s *Stats) {
	for st, n := range c.status {
		if n > 0 {
			s.ItemsByStatus[st] += n
		}
	}
	for st, n := range c.other {
		s.ItemsByStatus[st] += n
	}
	for _, ix := range c.indices {
		s.Docs[ix.name] = ix.live
	}
}

func (f *Fake) countRequest(status int, wire int64) {
	f.mu.Lock()
	f.stats.Requests++
	f.stats.RequestsByStatus[status]++
	f.stats.BytesReceived += wire
	f.mu.Unlock()
}

// Stats returns a snapshot of the counters.
func (f *Fake) Stats() Stats {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.stats.clone()
}

// DocCount returns the number of live documents in an index or data stream.
func (f *Fake) DocCount(name string) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	if ix := f.st.indices[name]; ix != nil {
		return ix.live
	}
	return 0
}

// Documents returns the live documents of an index or data stream (by the
// name written to, not the backing index), in order of first creation. It
// is empty with StorageOff.
func (f *Fake) Documents(name string) []Document {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.st.documents(name)
}

// Document returns one live document.
func (f *Fake) Document(name, id string) (Document, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ix := f.st.indices[name]
	if ix == nil || ix.docs == nil {
		return Document{}, false
	}
	d := ix.docs[id]
	if d == nil || !d.live {
		return Document{}, false
	}
	return Document{ID: d.id, Source: append([]byte(nil), d.source...), Version: d.version, SeqNo: d.seqNo}, true
}

// Indices returns the names of the indices and data streams that exist.
func (f *Fake) Indices() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.st.names()
}
