package spool

import (
	"errors"
	"fmt"
)

var (
	// ErrClosed is returned by operations on a closed spool.
	ErrClosed = errors.New("spool closed")
	// ErrLocked means another process holds the data dir.
	ErrLocked = errors.New("data dir locked by another process")
	// ErrNoData means a reader is at the end of its partition: wait with
	// Partition.Wait and try again.
	ErrNoData = errors.New("no data past this offset yet")
	// ErrEmptyBatch is an append of a batch without records.
	ErrEmptyBatch = errors.New("batch has no records")
)

// CorruptionError is damage found in a segment: which one, where, and from
// which offset on. Readers skip past it and report it; recovery repairs a torn
// tail.
type CorruptionError struct {
	Segment string // path of the .log file
	Pos     int64  // byte position of the damage
	Offset  uint64 // first offset that may be lost
	Skipped int64  // bytes skipped to resynchronise, if any
	Resume  uint64 // offset the reader continues at
	Err     error
}

func (e *CorruptionError) Error() string {
	return fmt.Sprintf("corrupt segment %s at byte %d (offset %d, %d bytes skipped): %v",
		e.Segment, e.Pos, e.Offset, e.Skipped, e.Err)
}

func (e *CorruptionError) Unwrap() error { return e.Err }

// GapError reports offsets a reader jumped over because they are no longer in
// the spool (dropped by drop_oldest or retention, or lost to damage), or
// because its offset was past the end.
type GapError struct {
	From, To uint64
}

func (e *GapError) Error() string {
	if e.To < e.From {
		return fmt.Sprintf("offset %d is past the end %d of the partition: reading from %d", e.From, e.To, e.To)
	}
	return fmt.Sprintf("offsets %d to %d are no longer in the spool", e.From, e.To)
}
