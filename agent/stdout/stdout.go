package stdout

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/capstan-agent/capstan/shipper/lines"
	"github.com/capstan-agent/capstan/spool"
	"github.com/capstan-agent/capstan/spool/batch"
	"go.uber.org/zap"
)

// Config configures the output.
type Config struct {
	Encoding       string        // raw (body + newline) or ndjson
	StartAt        string        // oldest or newest, for partitions without a checkpoint
	CommitInterval time.Duration // how often delivered offsets are committed; default 1s
	ReadBytes      int64         // bytes read from the spool at once; default 1 MiB
}

// Stats are the output's counters.
type Stats struct {
	RecordsOut atomic.Uint64
	BytesOut   atomic.Uint64
	Batches    atomic.Uint64
	Gaps       atomic.Uint64 // ranges of offsets skipped because they were gone
	Corrupt    atomic.Uint64 // damaged ranges skipped
	Commits    atomic.Uint64
}

// Output prints the records of its streams to a writer.
type Output struct {
	name    string
	cfg     Config
	sp      *spool.Spool
	streams []*spool.Stream
	w       io.Writer
	log     *zap.Logger

	wmu       sync.Mutex // one partition writes its lines at a time
	mu        sync.Mutex // guards delivered and progress
	delivered map[spool.Key]uint64
	progress  chan struct{} // closed and replaced when delivered moves

	stats Stats
}

// New makes an output named name (its checkpoint consumer) that reads
// streams from sp and writes to w.
func New(name string, sp *spool.Spool, streams []*spool.Stream, cfg Config, w io.Writer, log *zap.Logger) (*Output, error) {
	switch cfg.Encoding {
	case "":
		cfg.Encoding = "raw"
	case "raw", "ndjson":
	default:
		return nil, fmt.Errorf("encoding %q: want raw or ndjson", cfg.Encoding)
	}
	switch cfg.StartAt {
	case "":
		cfg.StartAt = "oldest"
	case "oldest", "newest":
	default:
		return nil, fmt.Errorf("start_at %q: want oldest or newest", cfg.StartAt)
	}
	if cfg.CommitInterval <= 0 {
		cfg.CommitInterval = time.Second
	}
	if cfg.ReadBytes <= 0 {
		cfg.ReadBytes = 1 << 20
	}
	if log == nil {
		log = zap.NewNop()
	}
	return &Output{name: name, cfg: cfg, sp: sp, streams: streams, w: w, log: log,
		delivered: map[spool.Key]uint64{}, progress: make(chan struct{})}, nil
}

// Stats returns the output's counters.
func (o *Output) Stats() *Stats { return &o.stats }

// Run prints records until ctx ends, then commits what it delivered.
func (o *Output) Run(ctx context.Context) error {
	committed, err := o.sp.Checkpoints().Register(o.name)
	if err != nil && !errors.Is(err, spool.ErrBadCheckpoint) {
		return fmt.Errorf("register checkpoint %s: %w", o.name, err)
	}
	if err != nil {
		o.log.Warn("checkpoint damaged; starting over from start_at", zap.Error(err))
	}
	var wg sync.WaitGroup
	for _, st := range o.streams {
		for _, p := range st.Partitions() {
			key := spool.Key{Stream: st.Name(), Partition: p.ID()}
			from, ok := committed[key]
			if next := p.NextOffset(); ok && from > next {
				// No delivery commits past the end (the spool refuses it):
				// resuming there would skip what is appended until then.
				o.log.Error("checkpoint beyond the end of the partition; resuming at the end",
					zap.Stringer("partition", key), zap.Uint64("checkpoint", from), zap.Uint64("next_offset", next))
				from = next
			} else if !ok {
				from = p.OldestOffset()
				if o.cfg.StartAt == "newest" {
					from = next
				}
			}
			o.setDelivered(key, from)
			wg.Go(func() { o.readPartition(ctx, p, key, from) })
		}
	}
	t := time.NewTicker(o.cfg.CommitInterval)
	defer t.Stop()
	var last map[spool.Key]uint64
	for {
		select {
		case <-t.C:
			last = o.commit(last)
		case <-ctx.Done():
			wg.Wait()
			o.commit(nil)
			return nil
		}
	}
}

// readPartition prints a partition's records from offset from on.
func (o *Output) readPartition(ctx context.Context, p *spool.Partition, key spool.Key, from uint64) {
	r := p.NewReader(from)
	var buf, out []byte
	for ctx.Err() == nil {
		rng, err := r.Next(o.cfg.ReadBytes)
		var gap *spool.GapError
		var corrupt *spool.CorruptionError
		var beyond *spool.BeyondEndError
		switch {
		case errors.Is(err, spool.ErrNoData):
			if err := p.Wait(ctx, r.Offset()); err != nil {
				return
			}
			continue
		case errors.As(err, &gap):
			o.stats.Gaps.Add(1)
			o.log.Warn("offsets no longer in the spool were skipped", zap.Stringer("partition", key),
				zap.Uint64("from", gap.From), zap.Uint64("to", gap.To-1), zap.String("reason", string(gap.Reason)))
			continue
		case errors.As(err, &beyond):
			o.log.Error("read position beyond the end of the partition; resuming at the end", zap.Stringer("partition", key),
				zap.Uint64("offset", beyond.Offset), zap.Uint64("next_offset", beyond.Next))
			from = beyond.Next
			o.setDelivered(key, from)
			continue
		case errors.As(err, &corrupt):
			o.stats.Corrupt.Add(1)
			o.log.Error("damaged spool range skipped", zap.Stringer("partition", key), zap.Error(err))
			continue
		case err != nil:
			o.log.Error("read spool", zap.Stringer("partition", key), zap.Error(err))
			return
		}
		if int64(cap(buf)) < rng.Len {
			buf = make([]byte, rng.Len)
		}
		buf = buf[:rng.Len]
		if _, err := rng.File.ReadAt(buf, rng.Pos); err != nil {
			o.log.Error("read segment", zap.Stringer("partition", key), zap.Error(err))
			return
		}
		out = o.encode(out[:0], buf, from, key)
		o.wmu.Lock()
		_, err = o.w.Write(out)
		o.wmu.Unlock()
		if err != nil {
			// Standard output closed: nothing can be delivered; the
			// checkpoint stays where it is.
			o.log.Error("write", zap.Error(err))
			return
		}
		o.stats.BytesOut.Add(uint64(len(out)))
		o.setDelivered(key, rng.Next)
		from = rng.Next
	}
}

// encode appends the records of the batches in b at or past offset from.
func (o *Output) encode(out, b []byte, from uint64, key spool.Key) []byte {
	var rec batch.Record
	var n uint64
	defer func() { o.stats.RecordsOut.Add(n) }()
	for len(b) > 0 {
		bt, size, err := batch.Decode(b)
		if err != nil {
			o.stats.Corrupt.Add(1)
			o.log.Error("undecodable batch skipped", zap.Stringer("partition", key), zap.Error(err))
			return out
		}
		b = b[size:]
		o.stats.Batches.Add(1)
		it := bt.Records()
		for it.Next(&rec) {
			if rec.Offset < from {
				continue // the range began inside this batch
			}
			if o.cfg.Encoding == "ndjson" {
				out = lines.AppendNDJSON(out, bt.SourceAttrs(), &rec)
			} else {
				out = append(append(out, rec.Body...), '\n')
			}
			n++
		}
	}
	return out
}

func (o *Output) setDelivered(key spool.Key, off uint64) {
	o.mu.Lock()
	o.delivered[key] = off
	close(o.progress)
	o.progress = make(chan struct{})
	o.mu.Unlock()
}

// commit writes delivered offsets if they moved since last.
func (o *Output) commit(last map[spool.Key]uint64) map[spool.Key]uint64 {
	o.mu.Lock()
	now := make(map[spool.Key]uint64, len(o.delivered))
	changed := last == nil
	for k, v := range o.delivered {
		now[k] = v
		if last[k] != v {
			changed = true
		}
	}
	o.mu.Unlock()
	if !changed {
		return last
	}
	if err := o.sp.Checkpoints().Commit(o.name, now); err != nil {
		o.log.Error("commit checkpoint", zap.Error(err))
		return last
	}
	o.stats.Commits.Add(1)
	return now
}

// Drain returns once every record spooled before the call is written and
// committed, or when ctx ends.
func (o *Output) Drain(ctx context.Context) error {
	target := map[spool.Key]uint64{}
	for _, st := range o.streams {
		for _, p := range st.Partitions() {
			target[spool.Key{Stream: st.Name(), Partition: p.ID()}] = p.NextOffset()
		}
	}
	for {
		o.mu.Lock()
		behind := false
		for k, t := range target {
			if o.delivered[k] < t {
				behind = true
			}
		}
		ch := o.progress
		o.mu.Unlock()
		if !behind {
			o.commit(nil)
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		}
	}
}
