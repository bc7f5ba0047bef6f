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

// GapReason says why offsets are no longer in the spool.
type GapReason string

// Why a reader had to jump over offsets.
const (
	// GapRetention: the segments holding them were deleted by retention
	// (max_age or max_bytes) while the consumer was not registered, or by
	// drop_oldest before the spool was last opened.
	GapRetention GapReason = "retention"
	// GapDropOldest: a full partition with when_full drop_oldest deleted
	// them unshipped while this spool was open.
	GapDropOldest GapReason = "drop_oldest"
	// GapDamaged: a segment ends before the next one begins; the batches in
	// between were lost to damage (a cut tail, a lost write).
	GapDamaged GapReason = "damaged"
)

// GapError reports offsets a reader jumped over because they are no longer in
// the spool: the offsets From up to (not including) To, with From < To
// always, and why they are gone.
type GapError struct {
	From, To uint64
	Reason   GapReason
}

// Lost is the number of offsets skipped.
func (e *GapError) Lost() uint64 { return e.To - e.From }

func (e *GapError) Error() string {
	return fmt.Sprintf("offsets %d to %d are no longer in the spool (%s)", e.From, e.To-1, e.Reason)
}

// ErrBeyondEnd is what a *BeyondEndError matches with errors.Is.
var ErrBeyondEnd = errors.New("offset beyond the end of the partition")

// BeyondEndError is an offset past the partition's next offset: a
// checkpoint that no delivery can have produced (a bug, or the data behind
// it lost to a power failure). Checkpoints.Commit refuses it (Consumer set);
// a Reader asked to start there moves to the end, Next, and returns it once:
// the offsets in between never existed, so nothing was skipped, and records
// appended later are all read.
type BeyondEndError struct {
	Consumer string // the committing consumer; empty for a reader
	Key      Key
	Offset   uint64 // the offset asked for
	Next     uint64 // the partition's next offset at the time
}

func (e *BeyondEndError) Error() string {
	if e.Consumer != "" {
		return fmt.Sprintf("consumer %s: checkpoint %d of %s is beyond the partition's next offset %d",
			e.Consumer, e.Offset, e.Key, e.Next)
	}
	return fmt.Sprintf("offset %d of %s is beyond the partition's next offset %d: reading from %d",
		e.Offset, e.Key, e.Next, e.Next)
}

// Is makes errors.Is(err, ErrBeyondEnd) true.
func (e *BeyondEndError) Is(target error) bool { return target == ErrBeyondEnd }
