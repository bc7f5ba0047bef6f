package file

import (
	"os"
	"time"

	"github.com/capstan-agent/capstan/inputs/file/format"
	"github.com/capstan-agent/capstan/spool/batch"
)

// tracked is one file the input follows: a few hundred bytes of state, plus
// the decoder's buffers when lines are being held.
type tracked struct {
	id       fileID
	path     string // where it is now ("" when gone)
	resolved string // path with symlinks resolved
	origin   string // where it was first seen: the path attribute
	attrs    []batch.Attr
	fp       fingerprint
	gen      uint32
	producer uint64
	part     int

	offset    int64  // committed: every line before it is in the spool
	readOff   int64  // the next byte to read
	size      int64  // last size seen
	known     int64  // size as last known: from a stat, or a read that reached the end
	mtime     int64  // last modification time seen
	mode      uint32 // last st_mode seen
	denied    denial // the file as it was when an open failed and was warned about
	spoolNext uint64

	f          *os.File
	dec        *format.Decoder
	long       []byte // a line cut at max_line_bytes, waiting for its newline
	longStart  int64
	skipping   bool
	classified bool // its starting position is settled
	ready      bool // may have bytes to read
	gone       bool // no include path leads to it any more
	goneSince  time.Time
	found      time.Time
	lastData   time.Time
	lastTurn   uint64
	copying    bool // a copy continuing a truncated file: may still grow up to offset
	missed     int  // scans in a row that did not find it
	startEnd   bool // found by the first scan with start_at: end
	// waitsForOriginal: the last classify took it for a copy still being
	// made of a live file (copytruncate); scans, not writes, retry it.
	waitsForOriginal bool
	// vouchedFor is the producer the positions file on disk names for it
	// with a fingerprint that is not empty; 0 if none (vouched).
	vouchedFor uint64
}

// denial is what a file looked like when it could not be opened.
type denial struct {
	set         bool
	size, mtime int64
	mode        uint32
}

// committed is the offset before which every line is emitted (or skipped).
func (t *tracked) committed() int64 {
	c := t.readOff
	if t.skipping && t.longStart < c {
		c = t.longStart
	}
	if p, ok := t.dec.Pending(); ok && p < c {
		c = p
	}
	return c
}

// rewind forgets what was read past the committed offset.
func (t *tracked) rewind() {
	t.readOff = t.offset
	t.skipping = false
	t.dec.Reset()
}

func (t *tracked) entry() posEntry {
	e := posEntry{
		Path: t.origin, ID: t.id, Fingerprint: t.fp, Generation: t.gen, Producer: t.producer,
		Partition: t.part, Offset: t.offset, SpoolNext: t.spoolNext, Copy: t.copying,
	}
	if t.gone {
		e.GoneSince = t.goneSince.Unix()
	}
	return e
}
