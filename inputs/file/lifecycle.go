package file

import (
	"time"

	"go.uber.org/zap"
)

// ensureOpen opens t if needed, taking a turn from another file when
// max_open_files is reached.
func (in *Input) ensureOpen(t *tracked) bool {
	if t.f != nil {
		return true
	}
	if t.gone || t.path == "" {
		return false
	}
	if in.open >= in.cfg.MaxOpenFiles && !in.evict() {
		return false
	}
	f, err := in.openFile(t.path)
	if err != nil {
		in.openFailed(t, err)
		return false
	}
	if t.denied.set {
		t.denied.set = false
		in.stats.FilesUnreadable.Add(-1)
	}
	st, err := statFile(f)
	if err != nil || st.id != t.id {
		f.Close() // the path leads to another file now; scans will see it
		return false
	}
	t.f = f
	in.open++
	in.stats.FilesOpen.Store(int64(in.open))
	return true
}

// evict closes the open file that is idle, or else whose turn is longest
// past, so that files beyond max_open_files take turns. Files renamed away
// or deleted are never evicted: they could not be opened again.
func (in *Input) evict() bool {
	var victim *tracked
	for _, t := range in.order {
		if t.f == nil || t.gone {
			continue
		}
		if victim == nil || (!t.ready && victim.ready) ||
			(t.ready == victim.ready && t.lastTurn < victim.lastTurn) {
			victim = t
		}
	}
	if victim == nil {
		return false
	}
	in.closeFile(victim)
	return true
}

func (in *Input) closeFile(t *tracked) {
	if t.f == nil {
		return
	}
	t.f.Close()
	t.f = nil
	in.open--
	in.stats.FilesOpen.Store(int64(in.open))
}

// openFailed warns that t cannot be opened (permissions, most often) — once
// per file until it changes (size, mtime or mode; another identity is
// another file) or has been opened since: scans retry such a file every
// scan_interval, and a warning each time would bury everything else. Until
// then it is counted in FilesUnreadable.
func (in *Input) openFailed(t *tracked, err error) {
	now := denial{set: true, size: t.size, mtime: t.mtime, mode: t.mode}
	if t.denied == now {
		return
	}
	if !t.denied.set {
		in.stats.FilesUnreadable.Add(1)
	}
	t.denied = now
	in.stats.Errors.Add(1)
	in.log.Warn("cannot open file; not warned again until it changes", zap.String("path", t.path), zap.Error(err))
}

func (in *Input) fail(op string, t *tracked, err error) {
	in.stats.Errors.Add(1)
	in.log.Warn(op, zap.String("path", t.path), zap.Error(err))
}

// housekeeping flushes held records that timed out, lets go of files that
// were rotated away once read to their end, closes idle files and forgets
// old positions.
func (in *Input) housekeeping() {
	now := time.Now()
	for i := 0; i < len(in.order); i++ {
		t := in.order[i]
		if !t.classified {
			if t.gone {
				in.drop(i, t)
				i--
			}
			continue
		}
		in.cur = t
		if t.dec.FlushIdle(now.UnixNano(), in) {
			in.commit(t)
		}
		switch {
		case t.gone && t.f == nil:
			in.drop(i, t)
			i--
		case t.gone && !t.ready && now.Sub(t.lastData) >= in.cfg.RotateWait:
			in.finish(t)
			in.drop(i, t)
			i--
		case !t.gone && t.f != nil && !t.ready && now.Sub(t.lastData) >= in.cfg.CloseInactive:
			in.closeFile(t)
		}
	}
	for id, e := range in.saved {
		if e.GoneSince != 0 && now.Sub(time.Unix(e.GoneSince, 0)) > in.cfg.ForgetAfter {
			delete(in.saved, id)
			in.dirty = true
		}
	}
	keep := in.retired[:0]
	for _, r := range in.retired {
		if now.Sub(time.Unix(r.At, 0)) < 10*in.cfg.RotateWait {
			keep = append(keep, r)
		}
	}
	in.retired = keep
}

// finish emits what a file that went away still holds: a last line without
// a newline, and records the decoder waited to complete.
func (in *Input) finish(t *tracked) {
	in.cur = t
	if !t.skipping && t.f != nil {
		n, _ := t.f.ReadAt(in.buf[:in.cfg.MaxLineBytes], t.readOff)
		if n > 0 {
			in.line(t, in.buf[:n], t.readOff, t.readOff+int64(n), time.Now().UnixNano())
			t.readOff += int64(n)
		}
	}
	if t.skipping {
		in.line(t, t.long, t.longStart, t.readOff, time.Now().UnixNano())
		t.skipping = false
	}
	t.dec.Flush(in)
	in.commit(t)
	in.stats.Released.Add(1)
}

// drop stops tracking the file at order[i]; its position is kept until
// forget_after.
func (in *Input) drop(i int, t *tracked) {
	in.log.Debug("drop", zap.String("path", t.origin), zap.Bool("classified", t.classified), zap.Int64("offset", t.offset))
	in.closeFile(t)
	if t.denied.set {
		in.stats.FilesUnreadable.Add(-1)
	}
	in.unmapPaths(t)
	delete(in.files, t.id)
	in.order = append(in.order[:i], in.order[i+1:]...)
	if t.classified {
		e := t.entry()
		e.GoneSince = time.Now().Unix()
		in.saved[t.id] = e
		in.retire(t) // a copy of it (mv across filesystems) continues it
	}
	in.dirty = true
	in.stats.FilesTracked.Store(int64(len(in.files)))
}

func (in *Input) savePositions() {
	if !in.dirty {
		return
	}
	p := positions{Input: in.cfg.Name, Retired: in.retired}
	for _, t := range in.order {
		if t.classified {
			p.Files = append(p.Files, t.entry())
		}
	}
	for _, e := range in.saved {
		p.Files = append(p.Files, e)
	}
	if err := savePositions(in.tgt.PositionsPath, p); err != nil {
		in.stats.Errors.Add(1)
		in.log.Warn("positions", zap.Error(err))
		in.saveFailed = true
		return
	}
	in.dirty, in.saveFailed = false, false
	for _, t := range in.order {
		if t.classified && t.fp.N > 0 {
			t.vouchedFor = t.producer
		}
	}
}

// vouched reports whether the positions file on disk names t's producer
// with a fingerprint of its first bytes. Only then may a batch of t go to
// the spool: after a kill, a restarted input continues the producer the
// positions file names from the spool's sequence if the file still begins
// as that fingerprint says, and the empty one — written when a truncation
// is seen, before the new generation has been read — matches any content:
// killed after the new generation's first batch, with the file copied and
// truncated again while down and written to that length or more, the input
// took it for the same generation (skipping its first lines) and found no
// retired generation for the copy (reading those lines again). One write
// vouches for every file classified by then (their fingerprints are taken
// as they are classified), so a first read of a thousand files costs one.
// A fingerprint on disk shorter than what was spooled since is the
// prefix identification's own limit (as for any file shorter than
// fingerprint_bytes): the tick lengthens it.
func (in *Input) vouched(t *tracked) bool {
	return t.vouchedFor == t.producer
}
