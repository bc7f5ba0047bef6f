package delivery

import (
	"fmt"

	"github.com/capstan-agent/capstan/spool"
	"github.com/capstan-agent/capstan/spool/batch"
)

// Record is one record as an encoder sees it. It points into the spool's
// bytes and is valid only during the call it is passed to: an encoder
// copies what it keeps. It is the one record view of every output, so that
// a change of the batch format (typed attribute values, an observed time)
// changes this file and the encoders that want the new fields, nothing
// else.
type Record struct {
	batch.Record // Offset, Timestamp (unix nanoseconds), Body, Attrs()

	// Partition is where the record lies in this spool.
	Partition spool.Key
	// Producer and Sequence are those of its batch: the source that wrote
	// it and the source's position just past the batch (docs/format.md).
	// With Index they name the record by where it came from, stable across
	// restarts, re-sends and hops between agents: what an output derives a
	// document id or a record uid from.
	Producer, Sequence uint64
	// Index is the record's position in its batch; Count the batch's
	// number of records.
	Index, Count int

	src   batch.AttrIter
	batch uint64 // base offset of its batch
}

// SourceAttrs iterates over the attributes its batch's source gave every
// record (host, file path, Kubernetes pod …); Attrs over its own. A
// consumer that merges them lets the record's own win.
func (r *Record) SourceAttrs() batch.AttrIter { return r.src }

// records walks the records of a run of whole batches read from a
// partition, from an offset on, without allocating. Batches that do not
// decode are reported to damaged and skipped.
type records struct {
	b       []byte
	from    uint64
	key     spool.Key
	bt      batch.Batch
	it      batch.RecordIter
	rec     Record
	inBatch bool
	damaged func(first, next uint64, err error)
}

func (rs *records) reset(b []byte, from uint64) {
	rs.b, rs.from, rs.inBatch = b, from, false
}

// next returns the next record at or after from, or nil at the end.
func (rs *records) next() *Record {
	for {
		if rs.inBatch {
			if rs.it.Next(&rs.rec.Record) {
				if rs.rec.Offset < rs.from {
					continue
				}
				r := &rs.rec
				r.Index = int(r.Offset - rs.bt.BaseOffset)
				return r
			}
			rs.inBatch = false
			continue
		}
		if len(rs.b) == 0 {
			return nil
		}
		bt, size, err := batch.Decode(rs.b)
		if err != nil {
			// The reader checked this header; a record section that does
			// not decode is damage: report it and go past the batch.
			h, herr := batch.ParseHeader(rs.b)
			if herr != nil || h.Size() > int64(len(rs.b)) {
				if rs.damaged != nil {
					rs.damaged(h.BaseOffset, h.BaseOffset, err)
				}
				rs.b = nil
				return nil
			}
			if rs.damaged != nil {
				rs.damaged(h.BaseOffset, h.NextOffset(), err)
			}
			rs.b = rs.b[h.Size():]
			continue
		}
		rs.b = rs.b[size:]
		if bt.NextOffset() <= rs.from {
			continue
		}
		rs.bt = bt
		rs.it = bt.Records()
		rs.inBatch = true
		rs.rec = Record{Partition: rs.key, Producer: bt.Producer, Sequence: bt.Sequence,
			Count: int(bt.Count), src: bt.SourceAttrs(), batch: bt.BaseOffset}
	}
}

// ForEachRecord calls fn for every record at or after offset from in b, a
// run of whole batches as a partition key of the spool holds them: the
// views an encoder gets, for tests of encoders and for tools. It stops at
// fn's first error, and fails on a batch that does not decode.
func ForEachRecord(b []byte, from uint64, key spool.Key, fn func(*Record) error) error {
	var bad error
	rs := records{key: key, damaged: func(first, _ uint64, err error) {
		if bad == nil {
			bad = fmt.Errorf("batch at offset %d: %w", first, err)
		}
	}}
	rs.reset(b, from)
	for rec := rs.next(); rec != nil && bad == nil; rec = rs.next() {
		if err := fn(rec); err != nil {
			return err
		}
	}
	return bad
}
