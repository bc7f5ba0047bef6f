package spool

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
	BlockedAppends  int64 // appends waiting for space now
	// What opening the partition cost and cut: recovery reads only the tail.
	RecoveryBytesRead int64
	RecoveryBytesCut  int64
}

// Stats returns the partition's current state and counters.
func (p *Partition) Stats() PartitionStats {
	p.mu.Lock()
	producers := len(p.producer.m)
	p.mu.Unlock()
	segs := p.segments()
	return PartitionStats{
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
		RecoveryBytesRead: p.stats.recoveryRead.Load(),
		RecoveryBytesCut:  p.stats.recoveryCutBytes.Load(),
	}
}
