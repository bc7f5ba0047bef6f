package file

import (
	"context"
	"sync"
	"time"
)

// unreadGauge backs Stats.UnreadBytes: the bytes in tracked files past where
// the input has read. Run sets it at every poll and scan from what it knows
// (sizes from stats, and from reads that reached the end). While Run is
// blocked — an append waiting for a full stream, the very case the gauge is
// for — it cannot, so a sampler stats the files Run listed last, and the
// gauge keeps growing as they do.
type unreadGauge struct {
	mu    sync.Mutex
	at    time.Time    // when Run last set the gauge
	files []unreadFile // what Run knew then
}

type unreadFile struct {
	path    string // "" once no include path leads to it
	id      fileID
	known   int64 // its size as last known
	readOff int64 // where reading stood
}

// updateUnread sets the gauge from the tracked files and lists them for the
// sampler. Files not settled yet (empty, unreadable, a copy waiting for its
// original) are not counted.
func (in *Input) updateUnread() {
	g := &in.unread
	g.mu.Lock()
	defer g.mu.Unlock()
	g.files = g.files[:0]
	var sum int64
	for _, t := range in.order {
		if !t.classified {
			continue
		}
		sum += max(0, t.known-t.readOff)
		g.files = append(g.files, unreadFile{path: t.path, id: t.id, known: t.known, readOff: t.readOff})
	}
	g.at = time.Now()
	in.stats.UnreadBytes.Store(sum)
}

// sampleUnread runs beside Run until ctx ends. Every scan_interval, if Run
// has not set the gauge for that long (and two polls), it stats the files
// Run listed: one statx each, as a scan would. A path that leads to another
// file now (rotated meanwhile) counts that file whole, and the old one to
// its last known size.
func (in *Input) sampleUnread(ctx context.Context) {
	stale := max(in.cfg.ScanInterval, 2*in.cfg.PollInterval)
	tick := time.NewTicker(in.cfg.ScanInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		g := &in.unread
		g.mu.Lock()
		if time.Since(g.at) >= stale {
			var sum int64
			for _, f := range g.files {
				size := f.known
				if f.path != "" {
					if st, err := statPath(f.path); err == nil && st.id == f.id {
						size = max(size, st.size)
					} else if err == nil {
						sum += st.size
					}
				}
				sum += max(0, size-f.readOff)
			}
			in.stats.UnreadBytes.Store(sum)
		}
		g.mu.Unlock()
	}
}
