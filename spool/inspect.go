package spool

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/capstan-agent/capstan/spool/batch"
)

// The functions in this file look at a data dir without opening it: they take
// no lock and change nothing, so they work on the spool of a running agent, on
// a read-only copy, and on a damaged spool that Open would repair.

// SegmentInfo describes one segment as it lies on disk.
type SegmentInfo struct {
	Path         string `json:"path"`
	Base         uint64 `json:"base"` // from the file name
	Next         uint64 `json:"next"` // offset after its last batch
	Bytes        int64  `json:"bytes"`
	IndexEntries int    `json:"index_entries"`
}

// PartitionInfo describes one partition as it lies on disk.
type PartitionInfo struct {
	Key      Key           `json:"partition"`
	Dir      string        `json:"dir"`
	Segments []SegmentInfo `json:"segments"`
	Oldest   uint64        `json:"oldest"` // first offset still stored
	Next     uint64        `json:"next"`   // offset the next append would get
	Bytes    int64         `json:"bytes"`
}

// Info is what a data dir holds: `capstan spool inspect`.
type Info struct {
	Dir         string                    `json:"dir"`
	AgentID     string                    `json:"agent_id"`
	LockedBy    string                    `json:"locked_by,omitempty"` // pid of the agent holding the lock
	Partitions  []PartitionInfo           `json:"partitions"`
	Checkpoints map[string]map[Key]uint64 `json:"checkpoints"` // consumer → next offset to read
	Problems    []string                  `json:"problems,omitempty"`
}

// Inspect describes the data dir at dir without opening it.
func Inspect(dir string) (*Info, error) {
	if err := isDataDir(dir); err != nil {
		return nil, err
	}
	info := &Info{Dir: dir, Checkpoints: map[string]map[Key]uint64{}}
	if b, err := os.ReadFile(filepath.Join(dir, "agent.id")); err == nil {
		info.AgentID = strings.TrimSpace(string(b))
	}
	var locked *LockedError
	if err := CheckLock(dir); errors.As(err, &locked) {
		info.LockedBy = locked.PID
	} else if err != nil {
		info.Problems = append(info.Problems, err.Error())
	}
	parts, err := ListPartitions(dir)
	if err != nil {
		return nil, err
	}
	for _, k := range parts {
		pi, err := inspectPartition(dir, k)
		if err != nil {
			info.Problems = append(info.Problems, err.Error())
			continue
		}
		info.Partitions = append(info.Partitions, pi)
	}
	ck := &Checkpoints{dir: filepath.Join(dir, "checkpoints")}
	consumers, _ := ck.Consumers()
	for _, c := range consumers {
		offs, err := ck.Load(c)
		if err != nil {
			info.Problems = append(info.Problems, err.Error())
			if !errors.Is(err, ErrPreviousCheckpoint) {
				continue
			}
		}
		info.Checkpoints[c] = offs
	}
	ends := make(map[Key]uint64, len(info.Partitions))
	for _, pi := range info.Partitions {
		ends[pi.Key] = pi.Next
	}
	for _, c := range consumers {
		for _, e := range beyondEnd(c, info.Checkpoints[c], ends) {
			info.Problems = append(info.Problems, e.Error())
		}
	}
	return info, nil
}

// isDataDir says plainly why dir is not a spool, if it is not one.
func isDataDir(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("%s: %w", dir, errors.Unwrap(err))
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s: not a directory", dir)
	}
	if _, err := os.Stat(filepath.Join(dir, "spool")); err != nil {
		return fmt.Errorf("%s: not a capstan data dir (it has no spool/ directory)", dir)
	}
	return nil
}

// ListPartitions lists the partitions of every stream on disk in the data
// dir (spool/<stream>/<partition> directories), sorted.
func ListPartitions(dir string) ([]Key, error) {
	if err := isDataDir(dir); err != nil {
		return nil, err
	}
	streams, err := os.ReadDir(filepath.Join(dir, "spool"))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", filepath.Join(dir, "spool"), err)
	}
	var keys []Key
	for _, st := range streams {
		if !st.IsDir() {
			continue
		}
		parts, err := os.ReadDir(filepath.Join(dir, "spool", st.Name()))
		if err != nil {
			return nil, fmt.Errorf("read stream %s: %w", st.Name(), err)
		}
		for _, p := range parts {
			if id, err := strconv.Atoi(p.Name()); err == nil && p.IsDir() && id >= 0 {
				keys = append(keys, Key{st.Name(), id})
			}
		}
	}
	slices.SortFunc(keys, compareKeys)
	return keys, nil
}

func segmentBases(dir string) ([]uint64, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read partition %s: %w", dir, err)
	}
	var bases []uint64
	for _, e := range entries {
		if base, ok := parseSegmentName(e.Name(), logSuffix); ok {
			bases = append(bases, base)
		}
	}
	slices.Sort(bases)
	return bases, nil
}

func inspectPartition(dir string, k Key) (PartitionInfo, error) {
	pi := PartitionInfo{Key: k, Dir: filepath.Join(dir, "spool", k.Stream, strconv.Itoa(k.Partition))}
	bases, err := segmentBases(pi.Dir)
	if err != nil {
		return pi, err
	}
	for i, base := range bases {
		s, err := openSegment(pi.Dir, base, false)
		if err != nil {
			return pi, err
		}
		b, _ := os.ReadFile(s.indexPath())
		idx := decodeIndex(b, s.size.Load())
		si := SegmentInfo{Path: s.path, Base: base, Bytes: s.size.Load(), IndexEntries: len(idx)}
		if i+1 < len(bases) {
			si.Next = bases[i+1]
		} else {
			si.Next = s.walkEnd(s.agreeing(idx))
		}
		s.f.Close()
		pi.Segments = append(pi.Segments, si)
		pi.Bytes += si.Bytes
	}
	if n := len(pi.Segments); n > 0 {
		pi.Oldest, pi.Next = pi.Segments[0].Base, pi.Segments[n-1].Next
	}
	return pi, nil
}

// walkEnd walks headers from the last index entry to the end of the segment
// and returns the offset after the last whole batch.
func (s *segment) walkEnd(idx []indexEntry) uint64 {
	pos, next := int64(0), s.base
	if len(idx) > 0 {
		pos, next = int64(idx[len(idx)-1].pos), s.base+uint64(idx[len(idx)-1].rel)
	}
	_, next = s.walk(pos, next, math.MaxUint64, s.size.Load())
	return next
}

// Problem is one thing wrong in a data dir.
type Problem struct {
	Path string // file
	Pos  int64  // byte position in it, or -1
	Msg  string
}

func (p Problem) String() string {
	if p.Pos >= 0 {
		return fmt.Sprintf("%s: byte %d: %s", p.Path, p.Pos, p.Msg)
	}
	return fmt.Sprintf("%s: %s", p.Path, p.Msg)
}

// VerifyStats counts what Verify read.
type VerifyStats struct {
	Partitions, Segments, Batches int
	Records                       uint64
	Bytes                         int64
	Problems                      int
}

// Verify reads every batch of every segment of the data dir and checks
// length, magic, CRC and offset continuity, every index entry, every producer
// snapshot and every checkpoint file. It reports each problem to report and
// returns what it read; an error means the dir could not be read at all.
func Verify(dir string, report func(Problem)) (VerifyStats, error) {
	var vs VerifyStats
	if err := isDataDir(dir); err != nil {
		return vs, err
	}
	count := func(p Problem) {
		vs.Problems++
		report(p)
	}
	keys, err := ListPartitions(dir)
	if err != nil {
		return vs, err
	}
	ends := map[Key]uint64{} // next offset of each readable partition
	for _, k := range keys {
		vs.Partitions++
		pdir := filepath.Join(dir, "spool", k.Stream, strconv.Itoa(k.Partition))
		bases, err := segmentBases(pdir)
		if err != nil {
			count(Problem{pdir, -1, err.Error()})
			continue
		}
		ends[k] = 0
		for i, base := range bases {
			s, err := openSegment(pdir, base, false)
			if err != nil {
				count(Problem{segmentName(pdir, base, logSuffix), -1, err.Error()})
				continue
			}
			vs.Segments++
			last := i == len(bases)-1
			next := s.verify(&vs, count, last)
			if last {
				ends[k] = next
			}
			if !last && next != bases[i+1] && s.size.Load() > 0 {
				count(Problem{s.path, -1, fmt.Sprintf("ends at offset %d but the next segment starts at %d", next, bases[i+1])})
			}
			s.f.Close()
			snap := segmentName(pdir, base, producerSuffix)
			if _, err := os.Stat(snap); err == nil {
				if _, err := loadSnapshot(snap, base, new(atomic.Int64)); err != nil {
					count(Problem{snap, -1, "producer snapshot damaged: the next open rebuilds it from older segments"})
				}
			}
		}
	}
	ck := &Checkpoints{dir: filepath.Join(dir, "checkpoints")}
	consumers, _ := ck.Consumers()
	for _, c := range consumers {
		offs, err := ck.Load(c)
		if errors.Is(err, ErrPreviousCheckpoint) {
			count(Problem{filepath.Join(ck.dir, c), -1, "checkpoint damaged: the consumer will resume at the commit before it (" + c + prevSuffix + ")"})
		} else if err != nil {
			count(Problem{filepath.Join(ck.dir, c), -1, "checkpoint damaged: the consumer will start again from its configured start"})
			continue
		}
		for _, e := range beyondEnd(c, offs, ends) {
			count(Problem{filepath.Join(ck.dir, c), -1, e.Error() + " (the consumer resumes at the end)"})
		}
	}
	return vs, nil
}

// beyondEnd lists the checkpoints of consumer that lie past the end of their
// partition, in partition order. Partitions not in ends are not judged.
func beyondEnd(consumer string, offs map[Key]uint64, ends map[Key]uint64) []*BeyondEndError {
	var out []*BeyondEndError
	for k, v := range offs {
		if next, ok := ends[k]; ok && v > next {
			out = append(out, &BeyondEndError{Consumer: consumer, Key: k, Offset: v, Next: next})
		}
	}
	slices.SortFunc(out, func(a, b *BeyondEndError) int { return compareKeys(a.Key, b.Key) })
	return out
}

func compareKeys(a, b Key) int {
	if c := strings.Compare(a.Stream, b.Stream); c != 0 {
		return c
	}
	return a.Partition - b.Partition
}

// verify reads the segment from start to end, checking each batch, then its
// index. It returns the offset after its last good batch.
func (s *segment) verify(vs *VerifyStats, report func(Problem), last bool) uint64 {
	size := s.size.Load()
	vs.Bytes += size
	starts := map[int64]uint64{}
	sc := newScanner(s, 0, s.base, size, crcChecked, resync)
	for sc.next() {
		if k := sc.skip; k != nil {
			report(Problem{s.path, k.pos, fmt.Sprintf("damaged batch: %v; %d bytes (offsets %d to %d) unreadable", k.cause, k.bytes, k.from, k.resume-1)})
		}
		starts[sc.pos] = sc.h.BaseOffset
		vs.Batches++
		vs.Records += uint64(sc.h.Count)
	}
	if sc.err != nil {
		what := "damaged batch"
		if last {
			what = "torn or damaged tail"
		}
		report(Problem{s.path, sc.pos, fmt.Sprintf("%s (%d bytes from offset %d on): %v", what, size-sc.pos, sc.want, sc.err)})
	}
	next := sc.want
	b, err := os.ReadFile(s.indexPath())
	if err != nil && !os.IsNotExist(err) {
		report(Problem{s.indexPath(), -1, err.Error()})
	}
	if len(b)%indexEntrySize != 0 {
		report(Problem{s.indexPath(), int64(len(b) / indexEntrySize * indexEntrySize), "index ends in a partial entry (it is rebuilt on demand)"})
	}
	for i := 0; i+indexEntrySize <= len(b); i += indexEntrySize {
		e := decodeIndex(b[i:i+indexEntrySize], size+1)
		if len(e) == 0 {
			report(Problem{s.indexPath(), int64(i), "index entry points outside the segment (it is rebuilt on demand)"})
			continue
		}
		if off, ok := starts[int64(e[0].pos)]; !ok || off != s.base+uint64(e[0].rel) {
			report(Problem{s.indexPath(), int64(i), fmt.Sprintf("index entry (offset %d at byte %d) does not match a batch (it is dropped on load)", s.base+uint64(e[0].rel), e[0].pos)})
		}
	}
	return next
}

// BytesFrom is how many bytes of the partition lie at or after offset off:
// the lag of a consumer whose checkpoint is off.
func (pi PartitionInfo) BytesFrom(off uint64) int64 {
	var n int64
	for i, si := range pi.Segments {
		switch {
		case off <= si.Base:
			n += si.Bytes
		case off < si.Next || i == len(pi.Segments)-1:
			s, err := openSegment(pi.Dir, si.Base, false)
			if err != nil {
				continue
			}
			b, _ := os.ReadFile(s.indexPath())
			s.idx = s.agreeing(decodeIndex(b, s.size.Load()))
			n += si.Bytes - s.position(off, si.Bytes)
			s.f.Close()
		}
	}
	return n
}

// Scan calls fn for every intact batch of a partition that holds offsets at
// or after from, in order, without opening the spool: `capstan spool dump`.
// Damaged batches are skipped and reported to bad.
func Scan(dir string, k Key, from uint64, fn func(batch.Batch) error, bad func(Problem)) error {
	if err := isDataDir(dir); err != nil {
		return err
	}
	pdir := filepath.Join(dir, "spool", k.Stream, strconv.Itoa(k.Partition))
	bases, err := segmentBases(pdir)
	if err != nil {
		return err
	}
	if len(bases) == 0 {
		return fmt.Errorf("%s: no such stream partition in %s", k, dir)
	}
	var buf []byte
	for i, base := range bases {
		if i+1 < len(bases) && bases[i+1] <= from {
			continue
		}
		s, err := openSegment(pdir, base, false)
		if err != nil {
			return err
		}
		sc := newScanner(s, 0, base, s.size.Load(), crcChecked, resync)
		for sc.next() {
			if k := sc.skip; k != nil {
				bad(Problem{s.path, k.pos, fmt.Sprintf("damaged batch: %v; %d bytes skipped", k.cause, k.bytes)})
			}
			if sc.h.NextOffset() > from {
				buf = append(buf[:0], sc.batch()...)
				b, _, err := batch.Decode(buf)
				if err == nil {
					err = fn(b)
				}
				if err != nil {
					s.f.Close()
					return err
				}
			}
		}
		if sc.err != nil {
			bad(Problem{s.path, sc.pos, fmt.Sprintf("damaged batch: %v; rest of segment skipped", sc.err)})
		}
		s.f.Close()
	}
	return nil
}
