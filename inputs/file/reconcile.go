package file

import (
	"bytes"
	"path/filepath"
	"time"

	"go.uber.org/zap"

	"github.com/capstan-agent/capstan/spool/batch"
)

// restore loads the positions file.
func (in *Input) restore() error {
	p, err := loadPositions(in.tgt.PositionsPath)
	if err != nil {
		return err
	}
	for _, e := range p.Files {
		in.saved[e.ID] = e
	}
	in.retired = p.Retired
	return nil
}

// reconcile walks the include patterns and brings every file's state up to
// date. fsnotify events and the periodic scan both end here: one code path.
func (in *Input) reconcile() {
	now := time.Now()
	seen := make(map[fileID]bool, len(in.files))
	visited := make(map[string]bool)
	for _, g := range in.include {
		g.walk(in.watch, func(p string) {
			if visited[p] || in.excluded(p) {
				return
			}
			visited[p] = true
			st, err := statPath(p)
			if err != nil || seen[st.id] {
				return
			}
			seen[st.id] = true
			in.observe(p, st, now)
		})
	}
	for _, t := range in.order {
		if seen[t.id] {
			t.missed = 0
			continue
		}
		// A file renamed while the scan ran can be missed once; it is gone
		// when two scans in a row do not find it.
		if t.missed++; !t.gone && t.missed >= 2 {
			t.gone, t.goneSince = true, now
			in.unmapPaths(t)
			t.path = ""
			t.ready = true
		}
	}
	// Files the positions file knows first: one of them may turn out to have
	// been truncated while we were down, and a new file may be its copy.
	for _, pass := range []bool{true, false} {
		for _, t := range in.order {
			if _, known := in.saved[t.id]; !t.classified && known == pass {
				in.classify(t, now)
			}
		}
	}
	in.stats.FilesTracked.Store(int64(len(in.files)))
	in.stats.Scans.Add(1)
	in.updateUnread()
}

// matches reports whether an include pattern matches p and no exclude does.
func (in *Input) matches(p string) bool {
	for _, g := range in.include {
		if g.match(p) {
			return !in.excluded(p)
		}
	}
	return false
}

func (in *Input) excluded(p string) bool {
	for _, g := range in.exclude {
		if g.match(p) {
			return true
		}
	}
	return false
}

func (in *Input) unmapPaths(t *tracked) {
	for _, p := range [...]string{t.path, t.resolved} {
		if in.byPath[p] == t {
			delete(in.byPath, p)
		}
	}
}

// observe handles one file found at path p.
func (in *Input) observe(p string, st fileStat, now time.Time) {
	t := in.files[st.id]
	if t == nil {
		in.discover(p, st, now)
		return
	}
	if t.path != p || t.gone {
		in.unmapPaths(t)
		t.path, t.gone = p, false
		t.resolved, _ = filepath.EvalSymlinks(p)
		in.byPath[p] = t
		in.byPath[t.resolved] = t
	}
	// Truncated and written back to the same size is possible: the content
	// of open files is checked at every scan, closed ones when they changed.
	changed := st.size != t.size || st.mtime != t.mtime
	t.size, t.mtime, t.mode, t.known = st.size, st.mtime, st.mode, st.size
	if t.classified && (t.f != nil || changed) && in.ensureOpen(t) {
		in.checkContent(t, st.size)
	}
	if st.size != t.readOff {
		t.ready = true
	}
}

func (in *Input) discover(p string, st fileStat, now time.Time) {
	resolved, _ := filepath.EvalSymlinks(p)
	t := &tracked{
		id: st.id, path: p, resolved: resolved, origin: p, size: st.size, known: st.size, mtime: st.mtime, mode: st.mode,
		found: now, lastData: now,
		part:     partitionFor(st.id, len(in.tgt.Partitions)),
		startEnd: in.initial && in.cfg.StartAt == "end",
		dec:      newDecoder(in.decOpt),
	}
	t.attrs = append(append([]batch.Attr{batch.StringAttr("input", in.cfg.Name), batch.StringAttr("log.file.path", p)},
		k8sAttrs(p, resolved)...), in.tgt.Attributes...)
	in.files[st.id] = t
	in.order = append(in.order, t)
	in.byPath[p] = t
	if resolved != "" {
		in.byPath[resolved] = t
		in.watch(filepath.Dir(resolved))
	}
}

// classify settles where a newly found file starts (docs/inputs-file.md,
// "Identity"): its saved position, or what the spool holds of it, or the
// position of the truncated file it is a copy of, or the beginning (end).
func (in *Input) classify(t *tracked, now time.Time) {
	if t.gone || !in.ensureOpen(t) {
		return
	}
	st, err := statFile(t.f)
	if err != nil {
		in.fail("stat", t, err)
		return
	}
	t.size, t.known = st.size, st.size
	if e, ok := in.saved[t.id]; ok {
		delete(in.saved, t.id)
		if match, _ := prefixMatches(t.f, in.fpBuf, e.Fingerprint); match || st.size < int64(e.Fingerprint.N) {
			t.fp, t.gen, t.producer, t.offset = e.Fingerprint, e.Generation, e.Producer, e.Offset
			t.spoolNext, t.copying = e.SpoolNext, e.Copy
			if e.Fingerprint.N > 0 {
				t.vouchedFor = e.Producer
			}
			in.log.Debug("restore", zap.String("path", t.path), zap.Int64("offset", t.offset))
			if e.Partition < len(in.tgt.Partitions) {
				t.part = e.Partition
			}
			// The spool's tail is exact where it still knows the producer;
			// the positions file speaks for producers whose batches have left
			// the spool.
			if seq, ok := in.tgt.Partitions[t.part].Sequence(t.producer); ok {
				t.offset = int64(seq)
			}
			in.settle(t, in.probe(t, t.gen+1))
			return
		}
		// Same inode, other content: replaced while we were down
		// (copytruncate). Its copy, if any, continues the old generation.
		t.fp, t.producer, t.part, t.offset = e.Fingerprint, e.Producer, e.Partition, e.Offset
		if seq, ok := in.tgt.Partitions[t.part%len(in.tgt.Partitions)].Sequence(t.producer); ok {
			t.offset = int64(seq)
		}
		in.retire(t)
		t.gen, t.producer, t.offset, t.fp = e.Generation+1, 0, 0, fingerprint{}
		t.part = partitionFor(t.id, len(in.tgt.Partitions))
		in.stats.Truncations.Add(1)
		in.probe(t, t.gen)
		in.start(t)
		return
	}
	if in.settle(t, in.probe(t, 0)) {
		return
	}
	if st.size == 0 {
		return // fingerprint not known yet: nothing to read either
	}
	for i, r := range in.retired {
		if st.size < int64(r.Fingerprint.N) {
			continue
		}
		if match, _ := prefixMatches(t.f, in.fpBuf, r.Fingerprint); match {
			// A copy of a file that was truncated (copytruncate): it goes on
			// with the old generation's producer from where that one stood.
			t.producer, t.part, t.offset = r.Producer, r.Partition, r.Offset
			t.copying = true
			in.retired = append(in.retired[:i], in.retired[i+1:]...)
			in.stats.Copies.Add(1)
			in.log.Info("copy of a truncated file continues its position",
				zap.String("path", t.path), zap.Int64("offset", t.offset))
			in.start(t)
			return
		}
	}
	if t.waitsForOriginal = in.maybeCopy(t); t.waitsForOriginal {
		// A copy of a live file whose truncation is still to come
		// (copytruncate copies until it meets the writer): wait for it, or
		// for the original to go away, and continue its position then.
		return
	}
	if t.startEnd {
		t.offset = st.size
	}
	in.log.Debug("new file", zap.String("path", t.path), zap.Int64("offset", t.offset), zap.Int("retired", len(in.retired)))
	in.start(t)
}

// maybeCopy reports whether t begins like a live file, as a copy made by
// copytruncate does before the original is truncated. Fingerprints of full
// length compare without I/O; short ones by reading.
func (in *Input) maybeCopy(t *tracked) bool {
	tb, err := readPrefix(t.f, in.fpBuf, in.cfg.FingerprintBytes)
	if err != nil || len(tb) == 0 {
		return false
	}
	tsum := sum64(tb)
	for _, u := range in.order {
		if u == t || u.gone || !u.classified {
			continue
		}
		// What was read of u (its fingerprint) or what u holds now.
		if n := u.fp.N; n > 0 && n <= len(tb) {
			sum := tsum
			if n < len(tb) {
				sum = sum64(tb[:n])
			}
			if sum == u.fp.Sum {
				in.log.Debug("copy waits", zap.String("path", t.path), zap.String("of", u.path))
				return true
			}
		}
		if u.fp.N == in.cfg.FingerprintBytes {
			continue
		}
		if u.f == nil {
			continue
		}
		ub, err := readPrefix(u.f, in.cmpBuf, len(tb))
		if err == nil && len(ub) > 0 && bytes.Equal(ub, tb[:len(ub)]) {
			in.log.Debug("copy waits", zap.String("path", t.path), zap.String("of", u.path))
			return true
		}
	}
	return false
}

// probe asks the spool for generations of t from gen on: the spool's tail is
// the truth about what a producer stored, even after kill -9.
func (in *Input) probe(t *tracked, from uint32) (found bool) {
	for g := from; g < from+8; g++ {
		p := producerID(in.tgt.AgentID, in.cfg.Name, t.id, g)
		for i, part := range in.tgt.Partitions {
			if seq, ok := part.Sequence(p); ok {
				t.gen, t.producer, t.part, t.offset = g, p, i, int64(seq)
				found = true
			}
		}
	}
	return found
}

// settle starts t if its position is known; a position past the end means
// the file was truncated while nobody looked: a new generation from 0.
func (in *Input) settle(t *tracked, known bool) bool {
	if !known && t.producer == 0 {
		return false
	}
	if t.offset > t.size && !t.copying {
		in.retire(t)
		t.gen++
		t.producer = producerID(in.tgt.AgentID, in.cfg.Name, t.id, t.gen)
		t.offset, t.fp = 0, fingerprint{}
		in.stats.Truncations.Add(1)
	}
	in.start(t)
	return true
}

func (in *Input) start(t *tracked) {
	if t.producer == 0 {
		t.producer = producerID(in.tgt.AgentID, in.cfg.Name, t.id, t.gen)
	}
	t.readOff = t.offset
	t.classified, t.ready, in.dirty = true, true, true
	if fp, err := takeFingerprint(t.f, in.fpBuf, in.cfg.FingerprintBytes); err == nil && fp.N >= t.fp.N {
		t.fp = fp
	}
}

// checkContent notices truncation (the file shrank below what was read) and
// replacement (its first bytes changed: copytruncate followed by writes
// past the old offset, or a reused inode), and extends a short fingerprint.
func (in *Input) checkContent(t *tracked, size int64) {
	if (size < t.readOff && !t.copying) || !in.extendFingerprint(t, 0) {
		in.truncated(t)
	}
}

// extendFingerprint checks that t still begins with what its fingerprint
// was taken of and, while it is short, takes it over more bytes. It reports
// false when the content was replaced, or when the file is now shorter than
// atLeast bytes (the end of what a read just returned: truncated since). The
// check comes first so that a fingerprint never mixes two generations.
func (in *Input) extendFingerprint(t *tracked, atLeast int64) bool {
	b, err := readPrefix(t.f, in.fpBuf, in.cfg.FingerprintBytes)
	if err != nil {
		in.fail("read", t, err)
		return true
	}
	if int64(len(b)) < min(atLeast, int64(in.cfg.FingerprintBytes)) {
		return false // shorter than what was just read: truncated meanwhile
	}
	if t.fp.N > 0 && (len(b) < t.fp.N || sum64(b[:t.fp.N]) != t.fp.Sum) {
		return false
	}
	if len(b) > t.fp.N {
		t.fp = fingerprint{N: len(b), Sum: sum64(b)}
		in.dirty = true
	}
	return true
}

// truncated starts a new generation of t from offset 0. What the decoder
// held is emitted first; the old generation is kept for a while so that a
// copy of it (copytruncate) can continue where it stood.
func (in *Input) truncated(t *tracked) {
	in.cur = t
	t.dec.Flush(in)
	if t.skipping {
		in.line(t, t.long, t.longStart, t.readOff, time.Now().UnixNano())
		t.skipping = false
	}
	in.commit(t)
	in.retire(t)
	t.gen++
	t.producer = producerID(in.tgt.AgentID, in.cfg.Name, t.id, t.gen)
	t.offset, t.readOff, t.fp = 0, 0, fingerprint{}
	t.dec.Reset()
	t.ready, in.dirty = true, true
	in.stats.Truncations.Add(1)
	in.log.Info("file truncated; reading it again from the start", zap.String("path", t.path))
	// Written now, not at the next tick: a copy made by copytruncate must be
	// recognised after a crash too.
	in.savePositions()
}

// retire keeps t's current generation (fingerprint, producer, offset) for a
// while, so that a copy of it continues where it stood.
func (in *Input) retire(t *tracked) {
	if t.fp.N == 0 || t.producer == 0 {
		return
	}
	in.log.Debug("retire", zap.String("path", t.path), zap.Int64("offset", t.offset), zap.Int("fp", t.fp.N))
	in.retired = append(in.retired, retiredEntry{
		Fingerprint: t.fp, Producer: t.producer, Partition: t.part, Offset: t.offset, At: time.Now().Unix(),
	})
	in.dirty = true
}
