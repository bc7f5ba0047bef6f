package spool

import (
	"fmt"
	"time"

	"go.uber.org/zap"
)

// FsyncPolicy says when appended bytes are forced to disk. Appends always reach
// the page cache, which outlives a killed process; the policy bounds what a
// power loss may cost.
type FsyncPolicy string

const (
	FsyncNever    FsyncPolicy = "never"    // the kernel writes back when it likes
	FsyncInterval FsyncPolicy = "interval" // every Options.FsyncInterval
	FsyncAlways   FsyncPolicy = "always"   // before Append returns
)

// WhenFull says what a full partition does with a new append.
type WhenFull string

const (
	// Block makes Append wait (honouring its context) until outputs commit
	// enough for retention to free space.
	Block WhenFull = "block"
	// DropOldest deletes the oldest segment even if unshipped, counted and logged.
	DropOldest WhenFull = "drop_oldest"
)

// Options configure a spool. The zero value of a field means its default.
type Options struct {
	SegmentBytes  int64         // roll a segment past this size; default 64 MiB
	SegmentAge    time.Duration // roll a segment this old; default 1h
	IndexInterval int64         // bytes of batches between index entries; default 64 KiB
	Fsync         FsyncPolicy   // default interval
	FsyncInterval time.Duration // default 1s
	Logger        *zap.Logger   // default no logging
}

// StreamOptions configure one stream.
type StreamOptions struct {
	Partitions int // default 1; may grow between runs, never shrink
	// MaxBytes bounds the stream's segment bytes, split evenly across
	// partitions (docs/architecture.md, retention); 0 = no limit.
	MaxBytes int64
	MaxAge   time.Duration // committed segments older than this go; 0 = kept until MaxBytes
	WhenFull WhenFull      // default block
}

// MaxSegmentBytes bounds SegmentBytes: index entries hold 32-bit positions.
const MaxSegmentBytes = 1 << 30

const (
	// MinPartitionBytes is the smallest share of max_bytes a partition may get.
	MinPartitionBytes = 4 << 10
	// minSegmentBytes is the smallest segment a bounded stream is given.
	minSegmentBytes = 1 << 10
	// segmentsPerBudget is how many segments a bounded partition's share is
	// cut into: what a commit frees at a time, and what drop_oldest drops.
	segmentsPerBudget = 4
)

func (o Options) withDefaults() (Options, error) {
	if o.SegmentBytes == 0 {
		o.SegmentBytes = 64 << 20
	}
	if o.SegmentAge == 0 {
		o.SegmentAge = time.Hour
	}
	if o.IndexInterval == 0 {
		o.IndexInterval = 64 << 10
	}
	if o.Fsync == "" {
		o.Fsync = FsyncInterval
	}
	if o.FsyncInterval == 0 {
		o.FsyncInterval = time.Second
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	switch {
	case o.SegmentBytes < 1024 || o.SegmentBytes > MaxSegmentBytes:
		return o, fmt.Errorf("segment size %d: want 1 KiB to 1 GiB", o.SegmentBytes)
	case o.IndexInterval < 1:
		return o, fmt.Errorf("index interval %d: want at least 1", o.IndexInterval)
	case o.SegmentAge < 0 || o.FsyncInterval < 0:
		return o, fmt.Errorf("negative segment age or fsync interval")
	}
	switch o.Fsync {
	case FsyncNever, FsyncInterval, FsyncAlways:
	default:
		return o, fmt.Errorf("fsync policy %q: want never, interval or always", o.Fsync)
	}
	return o, nil
}

func (o StreamOptions) withDefaults() (StreamOptions, error) {
	if o.Partitions == 0 {
		o.Partitions = 1
	}
	if o.WhenFull == "" {
		o.WhenFull = Block
	}
	switch {
	case o.Partitions < 1 || o.Partitions > 1024:
		return o, fmt.Errorf("partitions %d: want 1 to 1024", o.Partitions)
	case o.WhenFull != Block && o.WhenFull != DropOldest:
		return o, fmt.Errorf("when_full %q: want block or drop_oldest", o.WhenFull)
	case o.MaxBytes < 0 || o.MaxAge < 0:
		return o, fmt.Errorf("negative max_bytes or max_age")
	case o.MaxBytes > 0 && o.MaxBytes/int64(o.Partitions) < MinPartitionBytes:
		return o, fmt.Errorf("max_bytes %d over %d partitions leaves %d bytes each: want at least %d per partition",
			o.MaxBytes, o.Partitions, o.MaxBytes/int64(o.Partitions), MinPartitionBytes)
	}
	return o, nil
}

// budget is a partition's share of MaxBytes; 0 = no limit.
func (o StreamOptions) budget() int64 {
	if o.MaxBytes == 0 {
		return 0
	}
	return o.MaxBytes / int64(o.Partitions)
}

// segmentBytes is the size past which the stream's segments roll: the
// spool's segment size, or a quarter of a bounded partition's share if that
// is smaller, so that the share is freed (or dropped) in steps of a quarter.
func (o StreamOptions) segmentBytes(spoolSegment int64) int64 {
	if b := o.budget(); b > 0 {
		return min(spoolSegment, max(b/segmentsPerBudget, minSegmentBytes))
	}
	return spoolSegment
}
