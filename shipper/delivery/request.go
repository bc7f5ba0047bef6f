package delivery

import (
	"math"
	"time"

	"github.com/capstan-agent/capstan/spool"
)

// Request is what the engine builds for one send: records of one partition
// (and one key, if the encoder has keys) that the encoder appended to Body.
// Requests are reused: an encoder keeps what it needs besides Body in Data,
// and starts afresh when Len is 0.
type Request struct {
	// Body is what the encoder appended, record after record; max_bytes
	// counts it. The sender sends it, or builds its payload from it.
	Body []byte
	// Data is the output's own state of the request (groups, a compressed
	// copy), kept across reuse.
	Data any

	key     string
	lane    *lane
	entry   uint64 // id of its commit entry in the lane
	runs    []run  // offsets of its records, in order
	ends    []int  // ends[i]: len(Body) after record i
	marks   []mark // per-record answers of the last send
	n       int
	attempt int
	opened  time.Time
	// The oldest and newest timestamps of its records (Ordered with
	// OrderedInFlight above 1).
	oldest, newest int64
}

// run is a run of records at consecutive offsets.
type run struct {
	first uint64
	n     int
}

type markKind uint8

const (
	markRetry markKind = iota + 1
	markReject
	markDuplicate
)

type mark struct {
	i              int
	kind           markKind
	reason, detail string
}

// Key is the request's key (the encoder's Keyer), "" without one.
func (r *Request) Key() string { return r.key }

// Partition is the partition its records come from.
func (r *Request) Partition() spool.Key { return r.lane.key }

// Len is the number of records in the request.
func (r *Request) Len() int { return r.n }

// Attempt is how many times the request was sent before (0 on the first
// send).
func (r *Request) Attempt() int { return r.attempt }

// Offset is the spool offset of record i.
func (r *Request) Offset(i int) uint64 {
	for _, rn := range r.runs {
		if i < rn.n {
			return rn.first + uint64(i)
		}
		i -= rn.n
	}
	panic("delivery: record index out of range")
}

// Next is the offset just past the request's last record.
func (r *Request) Next() uint64 {
	if len(r.runs) == 0 {
		return 0
	}
	last := r.runs[len(r.runs)-1]
	return last.first + uint64(last.n)
}

// RecordEnd is the length Body had once record i was appended: record i
// is Body[RecordEnd(i-1):RecordEnd(i)] (from 0 for the first).
func (r *Request) RecordEnd(i int) int { return r.ends[i] }

// RecordBytes is what the encoder appended to Body for record i.
func (r *Request) RecordBytes(i int) []byte {
	start := 0
	if i > 0 {
		start = r.ends[i-1]
	}
	return r.Body[start:r.ends[i]]
}

// RetryRecord says record i was not taken and may be sent again (an
// Elasticsearch item answered 429). Call it from Send, then return
// Delivered: the engine sends the marked records again, after a backoff.
func (r *Request) RetryRecord(i int, reason string) {
	r.marks = append(r.marks, mark{i: i, kind: markRetry, reason: reason})
}

// RejectRecord says the destination refused record i for good (a mapping
// error): it goes to the dead letter with reason (a short class, a metric
// label) and detail (the destination's words).
func (r *Request) RejectRecord(i int, reason, detail string) {
	r.marks = append(r.marks, mark{i: i, kind: markReject, reason: reason, detail: detail})
}

// DuplicateRecord says the destination already held record i (a 409 on an
// Elasticsearch create): delivered, and counted as a duplicate avoided.
func (r *Request) DuplicateRecord(i int) {
	r.marks = append(r.marks, mark{i: i, kind: markDuplicate})
}

// reset empties the request for new records of the same lane and key.
func (r *Request) reset() {
	r.Body = r.Body[:0]
	r.runs = r.runs[:0]
	r.ends = r.ends[:0]
	r.marks = r.marks[:0]
	r.n = 0
	r.oldest, r.newest = math.MaxInt64, math.MinInt64
}

// added records that the encoder appended the record at off, of
// timestamp ts.
func (r *Request) added(off uint64, ts int64) {
	r.oldest, r.newest = min(r.oldest, ts), max(r.newest, ts)
	if k := len(r.runs) - 1; k >= 0 && r.runs[k].first+uint64(r.runs[k].n) == off {
		r.runs[k].n++
	} else {
		r.runs = append(r.runs, run{first: off, n: 1})
	}
	r.ends = append(r.ends, len(r.Body))
	r.n++
}

// offsets appends the offsets of the request's records to dst.
func (r *Request) offsets(dst []uint64) []uint64 {
	for _, rn := range r.runs {
		for j := 0; j < rn.n; j++ {
			dst = append(dst, rn.first+uint64(j))
		}
	}
	return dst
}
