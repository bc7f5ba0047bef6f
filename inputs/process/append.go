package process

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/capstan-agent/capstan/spool"
	"github.com/capstan-agent/capstan/spool/batch"
)

// Partition is where an Appender puts processed batches: a spool partition.
type Partition interface {
	Append(ctx context.Context, b []byte) (spool.AppendResult, error)
	Sequence(producer uint64) (uint64, bool)
}

// Targets finds the partition a processed record goes to: partition id of
// stream (an input picks the partition from its source; a routed record
// keeps the index, modulo the target stream's partitions). ok is false for
// a stream that does not exist.
type Targets func(stream string, id int) (p Partition, ok bool)

// AppendStats are an Appender's counters, shared by an input's partitions.
type AppendStats struct {
	RecordsIn  atomic.Uint64
	RecordsOut atomic.Uint64
	Dropped    atomic.Uint64 // by a processor (its own counters say why)
	Unrouted   atomic.Uint64 // routed to a stream that does not exist: kept in the input's stream
	Demoted    atomic.Uint64 // typed values a batch could not hold as typed (kept as strings)
	Undecoded  atomic.Uint64 // batches that did not decode: appended unprocessed
}

// Appender runs a chain over every record of the batches an input appends
// to one of its partitions, before they reach the spool: the spool holds
// the final record, so every output and every replay sees the same bytes.
// Each batch comes out as one version 2 batch per stream its records are
// routed to, with the input batch's sequence and source attributes and its
// producer (ProducerIn: derived per stream other than the input's): the
// spool's deduplication of a re-read source works per partition as it does
// without processors. A batch whose records are all
// dropped appends nothing.
type Appender struct {
	chain   *Chain
	id      int
	home    string   // the input's stream
	streams []string // every stream a record may be routed to (for Sequence)
	targets Targets
	stats   *AppendStats

	mu       sync.Mutex // an input may append to one partition from several goroutines
	rn       *Runner
	rec      Record
	src      []Field
	builders map[string]*batch.Builder
	order    []string // streams with records in this batch, in first-use order
}

// NewAppender makes the Appender of partition id of the input's stream home.
// streams lists every stream a route may name (Sequence asks them all).
func NewAppender(c *Chain, id int, home string, streams []string, targets Targets, stats *AppendStats) *Appender {
	return &Appender{chain: c, id: id, home: home, streams: streams, targets: targets, stats: stats,
		rn: c.NewRunner(), builders: map[string]*batch.Builder{}}
}

// ID is the partition's index in the input's stream.
func (a *Appender) ID() int { return a.id }

// ProducerIn is the producer a source's batches carry in stream: the
// source's own in the input's stream, one derived from it and the stream's
// name in any other. A batch split by a route keeps one identity per part,
// so that two parts that meet again in one partition (both streams
// forwarded into one core stream) are not taken for a re-send of each
// other, and a re-read source's part in each stream is still recognised.
func ProducerIn(producer uint64, home, stream string) uint64 {
	if stream == home || producer == 0 {
		return producer
	}
	h := fnv.New64a()
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], producer)
	h.Write(b[:])
	h.Write([]byte(stream))
	if p := h.Sum64(); p != 0 {
		return p
	}
	return 1
}

// Sequence is the highest sequence of producer stored in any stream this
// partition's records can go to: where a source got to, wherever its records
// were routed.
func (a *Appender) Sequence(producer uint64) (uint64, bool) {
	var best uint64
	found := false
	for _, st := range a.streams {
		p, ok := a.targets(st, a.id)
		if !ok {
			continue
		}
		if s, ok := p.Sequence(ProducerIn(producer, a.home, st)); ok && (!found || s > best) {
			best, found = s, true
		}
	}
	return best, found
}

// Append processes the batches in b (end to end, as an input appends them)
// and appends the results. A batch that does not decode is appended as it
// is (the spool stores what the input made; it is counted).
func (a *Appender) Append(ctx context.Context, b []byte) (spool.AppendResult, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var total spool.AppendResult
	for len(b) > 0 {
		bt, size, err := batch.Decode(b)
		if err != nil {
			a.stats.Undecoded.Add(1)
			home, ok := a.targets(a.home, a.id)
			if !ok {
				return total, fmt.Errorf("processors: stream %s is not open", a.home)
			}
			res, err := home.Append(ctx, b)
			add(&total, res)
			return total, err
		}
		res, err := a.process(ctx, &bt)
		add(&total, res)
		if err != nil {
			return total, err
		}
		b = b[size:]
	}
	a.rn.Flush()
	return total, nil
}

// add sums what appends to several partitions did; Base and Next are the
// last append's (a routed batch's offsets are in several partitions: only
// counts add up).
func add(total *spool.AppendResult, r spool.AppendResult) {
	total.Batches += r.Batches
	total.Duplicates += r.Duplicates
	if r.Next > 0 {
		total.Base, total.Next = r.Base, r.Next
	}
}

// process runs the chain over one batch and appends a batch per stream.
func (a *Appender) process(ctx context.Context, bt *batch.Batch) (spool.AppendResult, error) {
	a.src = a.src[:0]
	it := bt.SourceAttrs()
	for f, ok := it.NextAttr(); ok; f, ok = it.NextAttr() {
		a.src = append(a.src, f)
	}
	observed := bt.ObservedTime
	if observed == 0 {
		observed = time.Now().UnixNano() // decided once, here: replays of the spool see this value
	}
	a.order = a.order[:0]
	recs := bt.Records()
	var r batch.Record
	var fields []Field
	for recs.Next(&r) {
		a.stats.RecordsIn.Add(1)
		fields = fields[:0]
		ai := r.Attrs()
		for f, ok := ai.NextAttr(); ok; f, ok = ai.NextAttr() {
			fields = append(fields, f)
		}
		a.rec.Reset(r.Timestamp, r.Body, a.src, a.home, fields...)
		if !a.rn.Process(&a.rec).Kept() {
			a.stats.Dropped.Add(1)
			continue
		}
		st := a.rec.Stream
		if _, ok := a.targets(st, a.id); !ok {
			a.stats.Unrouted.Add(1)
			st = a.home
		}
		bld := a.builders[st]
		if bld == nil {
			bld = &batch.Builder{}
			a.builders[st] = bld
		}
		if !a.used(st) {
			bld.ResetV2(ProducerIn(bt.Producer, a.home, st), observed, a.src)
			a.order = append(a.order, st)
		}
		bld.AddRecord(a.rec.Time, batch.KindString, a.rec.Body, a.rec.Fields)
		a.stats.RecordsOut.Add(1)
	}
	if err := recs.Err(); err != nil {
		return spool.AppendResult{}, fmt.Errorf("processors: records of a batch: %w", err)
	}
	var total spool.AppendResult
	for _, st := range a.order {
		bld := a.builders[st]
		bld.SetSequence(bt.Sequence)
		if d := bld.Demoted(); d > 0 {
			a.stats.Demoted.Add(uint64(d))
		}
		p, _ := a.targets(st, a.id)
		res, err := p.Append(ctx, bld.Bytes())
		add(&total, res)
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

func (a *Appender) used(st string) bool {
	for _, s := range a.order {
		if s == st {
			return true
		}
	}
	return false
}
