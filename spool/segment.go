package spool

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/capstan-agent/capstan/spool/batch"
)

const (
	logSuffix      = ".log"
	indexSuffix    = ".index"
	producerSuffix = ".producers"
)

// segmentName is the file name of a segment's part: its base offset, 20 digits.
func segmentName(dir string, base uint64, suffix string) string {
	return filepath.Join(dir, fmt.Sprintf("%020d%s", base, suffix))
}

// parseSegmentName returns the base offset of a file named like a segment part.
func parseSegmentName(name, suffix string) (uint64, bool) {
	s, ok := strings.CutSuffix(name, suffix)
	if !ok || len(s) != 20 {
		return 0, false
	}
	base, err := strconv.ParseUint(s, 10, 64)
	return base, err == nil
}

// segment is one .log file and its sparse .index. The active segment of a
// partition is appended to under the partition's lock; readers see only the
// bytes below size, which is published after each write completes.
type segment struct {
	base    uint64
	path    string
	f       *os.File
	size    atomic.Int64  // bytes of whole batches
	next    atomic.Uint64 // offset after the last batch
	modTime atomic.Int64  // unix nanos of the last append, for age-based roll and retention
	created time.Time     // when it became active in this process, for age-based roll
	deleted atomic.Bool

	idxMu   sync.Mutex
	idx     []indexEntry // sorted; loaded lazily for sealed segments
	idxOK   bool         // idx is loaded and checked
	idxFile *os.File     // open for append on the active segment only
	idxPos  int64        // position of the last index entry (active)
}

// indexEntry maps an offset, relative to the segment base, to the byte
// position of the batch that starts with it. See docs/format.md.
type indexEntry struct {
	rel uint32
	pos uint32
}

const indexEntrySize = 8

func (s *segment) indexPath() string {
	return strings.TrimSuffix(s.path, logSuffix) + indexSuffix
}

// readHeader reads the fixed header of the batch at pos.
func (s *segment) readHeader(pos int64, buf *[batch.HeaderSize]byte) (batch.Header, error) {
	if _, err := s.f.ReadAt(buf[:], pos); err != nil {
		return batch.Header{}, err
	}
	return batch.ParseHeader(buf[:])
}

// lookup returns the position and base offset of the last indexed batch at or
// before off, or the start of the segment.
func (s *segment) lookup(off uint64) (int64, uint64) {
	rel := uint32(off - s.base)
	s.idxMu.Lock()
	idx := s.idx
	s.idxMu.Unlock()
	lo, hi := 0, len(idx)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if idx[m].rel <= rel {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo == 0 {
		return 0, s.base
	}
	return int64(idx[lo-1].pos), s.base + uint64(idx[lo-1].rel)
}

// nextIndexed returns the first indexed position after pos, or -1.
func (s *segment) nextIndexed(pos int64) (int64, uint64) {
	s.idxMu.Lock()
	defer s.idxMu.Unlock()
	for _, e := range s.idx {
		if int64(e.pos) > pos {
			return int64(e.pos), s.base + uint64(e.rel)
		}
	}
	return -1, 0
}

// decodeIndex parses index bytes, keeping the entries up to the first one that
// is out of order or points past limit: an index is derived data, and a
// damaged tail of it only costs lookup speed.
func decodeIndex(b []byte, limit int64) []indexEntry {
	n := len(b) / indexEntrySize
	idx := make([]indexEntry, 0, n)
	for i := 0; i < n; i++ {
		e := indexEntry{
			rel: binary.LittleEndian.Uint32(b[i*indexEntrySize:]),
			pos: binary.LittleEndian.Uint32(b[i*indexEntrySize+4:]),
		}
		if int64(e.pos) >= limit || (len(idx) > 0 && (e.rel <= idx[len(idx)-1].rel || e.pos <= idx[len(idx)-1].pos)) || e.pos == 0 {
			break
		}
		idx = append(idx, e)
	}
	return idx
}

func appendIndexEntry(b []byte, e indexEntry) []byte {
	b = binary.LittleEndian.AppendUint32(b, e.rel)
	return binary.LittleEndian.AppendUint32(b, e.pos)
}

// loadIndex makes the index of a sealed segment usable: read, each entry
// checked against the log (a wrong one is dropped), rebuilt from the log's
// headers if it is missing.
func (s *segment) loadIndex(interval int64) error {
	s.idxMu.Lock()
	defer s.idxMu.Unlock()
	if s.idxOK {
		return nil
	}
	size := s.size.Load()
	b, err := os.ReadFile(s.indexPath())
	idx := s.agreeing(decodeIndex(b, size))
	if err != nil || (len(idx) == 0 && size > 2*interval) {
		idx = s.rebuildIndex(interval)
	}
	s.idx, s.idxOK = idx, true
	if len(idx)*indexEntrySize == len(b) {
		return nil
	}
	var out []byte
	for _, e := range idx {
		out = appendIndexEntry(out, e)
	}
	// A failure to write only costs the next process another check.
	_ = writeFileAtomic(s.indexPath(), out)
	return nil
}

// agreeing keeps the entries that point at a batch header carrying the offset
// they claim. Either side may be the damaged one; a dropped entry costs only
// lookup speed, a wrong one would send readers to the wrong batch.
func (s *segment) agreeing(idx []indexEntry) []indexEntry {
	var buf [batch.HeaderSize]byte
	out := idx[:0]
	for _, e := range idx {
		h, err := s.readHeader(int64(e.pos), &buf)
		if err == nil && h.BaseOffset == s.base+uint64(e.rel) {
			out = append(out, e)
		}
	}
	return out
}

// rebuildIndex walks the batch headers of the segment, each of which must
// start where its predecessor ended. Past damage the scanner finds the next
// batch that passes its CRC, where readers can resynchronise: it gets an
// entry.
func (s *segment) rebuildIndex(interval int64) []indexEntry {
	var idx []indexEntry
	last := int64(0)
	sc := newScanner(s, 0, s.base, s.size.Load(), headersOnly, resync)
	for sc.next() {
		if sc.skip != nil || (sc.pos > 0 && sc.pos-last >= interval) {
			idx = append(idx, indexEntry{rel: uint32(sc.h.BaseOffset - s.base), pos: uint32(sc.pos)})
			last = sc.pos
		}
	}
	return idx
}
