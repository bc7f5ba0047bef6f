package file

import (
	"bytes"
	"errors"
	"io"
	"time"

	"go.uber.org/zap"

	"github.com/capstan-agent/capstan/inputs/file/format"
)

func newDecoder(opt format.Options) *format.Decoder { return format.NewDecoder(opt) }

// readRound gives every file with something to read one turn of at most one
// read buffer, starting one further each round, so that no file starves and
// a busy file does not hold the others up.
func (in *Input) readRound() bool {
	progress := false
	n := len(in.order)
	in.round++
	for i := 0; i < n && in.ctx.Err() == nil; i++ {
		t := in.order[(in.rr+i)%n]
		if !t.classified || !t.ready {
			continue
		}
		t.lastTurn = in.round
		if in.readOnce(t) {
			progress = true
		} else {
			t.ready = false
		}
	}
	if n > 0 {
		in.rr = (in.rr + 1) % n
	}
	return progress
}

// readOnce reads one buffer of t from where it stands, splits it into lines
// without copying them, decodes them and appends one batch. It reports
// whether it consumed anything.
func (in *Input) readOnce(t *tracked) bool {
	if !in.ensureOpen(t) {
		return false
	}
	n, err := t.f.ReadAt(in.buf, t.readOff)
	if err != nil && !errors.Is(err, io.EOF) {
		in.fail("read", t, err)
		return false
	}
	if n < len(in.buf) { // the end of the file, now
		t.known = t.readOff + int64(n)
	} else {
		t.known = max(t.known, t.readOff+int64(n))
	}
	if n == 0 {
		st, err := statFile(t.f)
		if err != nil {
			return false
		}
		t.known = st.size
		if st.size < t.readOff && !t.copying {
			in.truncated(t)
			return true
		}
		if st.mtime != t.mtime { // written, yet no bytes past ours: rewritten?
			t.mtime = st.mtime
			if !in.extendFingerprint(t, 0) {
				in.truncated(t)
				return true
			}
		}
		return false
	}
	// Checked after the read: if the file was truncated and written again
	// past our offset, what we just read belongs to the new generation and
	// is dropped; the copy of the old one, if any, continues from offset.
	if !in.extendFingerprint(t, t.readOff+int64(n)) {
		in.truncated(t)
		return true
	}
	t.copying = false
	data := in.buf[:n]
	now := time.Now().UnixNano()
	max := int(in.cfg.MaxLineBytes)
	in.cur = t
	pos := 0
	for {
		i := bytes.IndexByte(data[pos:], '\n')
		if i < 0 {
			break
		}
		end := t.readOff + int64(pos+i+1)
		if t.skipping {
			in.line(t, t.long, t.longStart, end, now)
			t.skipping = false
			t.long = nil // max_line_bytes per file is too much to keep idle
		} else {
			line := data[pos : pos+i]
			if len(line) > max {
				line = line[:max]
				in.stats.Truncated.Add(1)
			}
			in.line(t, line, t.readOff+int64(pos), end, now)
		}
		pos += i + 1
	}
	switch {
	case t.skipping:
		pos = n
	case n-pos >= max:
		// A line longer than max_line_bytes: keep its head, skip the rest
		// up to the next newline.
		t.long = append(t.long[:0], data[pos:pos+max]...)
		t.longStart, t.skipping = t.readOff+int64(pos), true
		in.stats.Truncated.Add(1)
		pos = n
	}
	if pos == 0 {
		return false // only the start of a line: wait for the rest
	}
	t.readOff += int64(pos)
	t.lastData = time.Now()
	in.stats.Bytes.Add(uint64(pos))
	// A failed append rewound t: it is tried again on the next poll, not in
	// a tight loop.
	return in.commit(t)
}

// line hands one line to the decoder; a CR before the newline and empty
// lines are dropped.
func (in *Input) line(t *tracked, line []byte, start, end, now int64) {
	if k := len(line); k > 0 && line[k-1] == '\r' {
		line = line[:k-1]
	}
	if len(line) == 0 {
		return
	}
	t.dec.Line(line, start, end, now, in)
}

// Record implements format.Sink: it adds a record to the current file's
// batch, with its stream and, for a JSON record that does not parse, a
// json_error attribute saying why.
func (in *Input) Record(ts int64, stream format.Stream, body []byte, invalid error) {
	if !in.started {
		in.bld.Reset(in.cur.producer, in.cur.attrs)
		in.started = true
	}
	attrs := in.srcAttr[stream]
	if invalid != nil {
		var ok bool
		if attrs, ok = in.jsonErrAttr[invalid]; !ok {
			attrs = in.jsonErrAttr[nil]
		}
	}
	in.bld.AddWithAttrs(ts, body, attrs)
}

// commit appends the batch built for t, with the offset it reaches as its
// sequence, and moves t's committed offset there. If the append fails, t
// reads again from its last committed offset: nothing is lost, and what was
// appended before is dropped by the spool's dedup if read twice.
func (in *Input) commit(t *tracked) bool {
	c := t.committed()
	in.stats.Truncated.Add(t.dec.Truncated)
	in.stats.Invalid.Add(t.dec.Invalid)
	t.dec.Truncated, t.dec.Invalid = 0, 0
	if in.started {
		in.started = false
		if in.bld.Count() > 0 {
			count := in.bld.Count()
			if !in.vouched(t) && !in.saveFailed { // what the file begins with, first
				in.dirty = true
				in.savePositions()
			}
			in.bld.SetSequence(uint64(c))
			res, err := in.tgt.Partitions[t.part].Append(in.ctx, in.bld.Bytes())
			if err != nil {
				if in.ctx.Err() == nil {
					in.stats.Errors.Add(1)
					in.log.Warn("append", zap.String("path", t.path), zap.Error(err))
				}
				t.rewind()
				return false
			}
			t.spoolNext = res.Next
			in.stats.Batches.Add(1)
			in.stats.Records.Add(uint64(count))
			in.stats.Duplicates.Add(uint64(res.Duplicates))
		}
	}
	if c != t.offset {
		t.offset = c
		in.dirty = true
	}
	return true
}
