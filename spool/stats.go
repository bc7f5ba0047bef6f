package spool

import (
	"os"
	"sync/atomic"
	"time"
)

// PartitionStats is a snapshot of a partition's state and counters, for
// metrics and `capstan spool inspect`.
type PartitionStats struct {
	Stream          string
	Partition       int
	OldestOffset    uint64
	NextOffset      uint64
	Bytes           int64
	Segments        int
	Producers       int
	AppendedBatches uint64
	AppendedRecords uint64
	AppendedBytes   uint64
	Duplicates      uint64 // batches dropped as already stored
	DroppedSegments uint64 // deleted unshipped by drop_oldest
	DroppedRecords  uint64
	// when_full: block. Blocked is true from the first append that had to
	// wait for space until none has waited for a second; BlockedSince is
	// when that began (zero when not blocked). BlockedSeconds is the total
	// time blocked since the spool was opened, the current episode included.
	BlockedAppends  int64 // appends waiting for space now
	BlockedBytes    int64 // their bytes
	Blocked         bool
	BlockedSince    time.Time
	BlockedSeconds  float64
	BlockedEpisodes uint64 // times it began to block
	BudgetBytes     int64  // the partition's share of max_bytes; 0 = no bound
	SegmentBytes    int64  // where its segments roll
	// What opening the partition cost and cut: recovery reads only the tail.
	RecoveryBytesRead int64
	RecoveryBytesCut  int64
	// fdatasync(2) of the partition's segments: the active one (fsync
	// interval or always) and each rolled one. A histogram takes
	// FsyncCount and FsyncSeconds as its count and sum.
	FsyncCount       uint64  // fsyncs done, failed ones included
	FsyncErrors      uint64  // fsyncs that failed
	FsyncSeconds     float64 // total time spent in them
	FsyncLastSeconds float64 // the latest one's duration
	FsyncMaxSeconds  float64 // the longest since the spool was opened
}

// fsyncCounters times and counts a partition's fsyncs.
type fsyncCounters struct {
	count, errors  atomic.Uint64
	nanos          atomic.Int64
	last, maxNanos atomic.Int64
}

// observe records one fsync that started at start.
func (c *fsyncCounters) observe(start time.Time, err error) {
	d := int64(time.Since(start))
	c.count.Add(1)
	if err != nil {
		c.errors.Add(1)
	}
	c.nanos.Add(d)
	c.last.Store(d)
	for {
		m := c.maxNanos.Load()
		if d <= m || c.maxNanos.CompareAndSwap(m, d) {
			return
		}
	}
}

// fdatasync syncs f on the partition's account.
func (p *Partition) fdatasync(f *os.File) error {
	start := time.Now()
	err := fdatasync(f)
	p.stats.fsync.observe(start, err)
	return err
}

// Stats returns the partition's current state and counters.
func (p *Partition) Stats() PartitionStats {
	p.mu.Lock()
	producers := len(p.producer.m)
	p.mu.Unlock()
	segs := p.segments()
	now := time.Now()
	st := PartitionStats{
		Stream:            p.stream.name,
		Partition:         p.id,
		OldestOffset:      segs[0].base,
		NextOffset:        segs[len(segs)-1].next.Load(),
		Bytes:             p.bytes.Load(),
		Segments:          len(segs),
		Producers:         producers,
		AppendedBatches:   p.stats.appendedBatches.Load(),
		AppendedRecords:   p.stats.appendedRecords.Load(),
		AppendedBytes:     p.stats.appendedBytes.Load(),
		Duplicates:        p.stats.duplicates.Load(),
		DroppedSegments:   p.stats.droppedSegments.Load(),
		DroppedRecords:    p.stats.droppedRecords.Load(),
		BlockedAppends:    p.stats.blocked.Load(),
		BlockedBytes:      p.pending.Load(),
		BlockedSeconds:    time.Duration(p.block.blockedNanos(now)).Seconds(),
		BlockedEpisodes:   p.block.episodes.Load(),
		BudgetBytes:       p.budget(),
		SegmentBytes:      p.stream.segmentBytes,
		RecoveryBytesRead: p.stats.recoveryRead.Load(),
		RecoveryBytesCut:  p.stats.recoveryCutBytes.Load(),
		FsyncCount:        p.stats.fsync.count.Load(),
		FsyncErrors:       p.stats.fsync.errors.Load(),
		FsyncSeconds:      time.Duration(p.stats.fsync.nanos.Load()).Seconds(),
		FsyncLastSeconds:  time.Duration(p.stats.fsync.last.Load()).Seconds(),
		FsyncMaxSeconds:   time.Duration(p.stats.fsync.maxNanos.Load()).Seconds(),
	}
	if since := p.block.since.Load(); since != 0 {
		st.Blocked, st.BlockedSince = true, time.Unix(0, since)
	}
	return st
}
