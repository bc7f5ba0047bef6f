package spool

import (
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// A blocked partition (when_full: block, appends waiting for space) is told
// in episodes: one warning when the first append starts to wait, one when no
// append has waited for blockSettle, with how long it lasted and what waited.
// A partition that stays full while a slow output frees a segment now and
// then is one episode, not a warning per segment.

// blockSettle is how long no append must have waited for an episode to end.
const blockSettle = time.Second

// blockEpisodes is a partition's record of them. The atomics are read by
// Stats; the rest is guarded by the partition's mu.
type blockEpisodes struct {
	since    atomic.Int64  // unix nanos when the current episode began; 0 = not blocked
	total    atomic.Int64  // nanos blocked in finished episodes
	episodes atomic.Uint64 // episodes begun

	appends  uint64    // appends that waited in the current episode
	bytes    int64     // their bytes
	lastWait time.Time // when the latest wait ended
}

// blockStarted is called with p.mu held when an append of n bytes is about
// to wait for space.
func (p *Partition) blockStarted(n, budget int64) {
	b := &p.block
	b.appends++
	b.bytes += n
	if b.since.Load() != 0 {
		return
	}
	now := time.Now()
	b.since.Store(now.UnixNano())
	b.lastWait = now
	b.episodes.Add(1)
	p.log.Warn("spool full: appends wait until outputs commit (when_full: block)",
		zap.Int64("bytes", p.bytes.Load()), zap.Int64("budget_bytes", budget),
		zap.Uint64("oldest_offset", p.OldestOffset()), zap.Uint64("next_offset", p.NextOffset()))
}

// blockSettled is called with p.mu held by the partition's periodic work:
// an episode ends once no append has waited for blockSettle.
func (p *Partition) blockSettled(now time.Time) {
	b := &p.block
	since := b.since.Load()
	if since == 0 || p.stats.blocked.Load() > 0 || now.Sub(b.lastWait) < blockSettle {
		return
	}
	d := b.lastWait.Sub(time.Unix(0, since))
	b.total.Add(int64(d))
	b.since.Store(0)
	p.log.Warn("spool no longer full: appends go through again",
		zap.Duration("blocked_for", d), zap.Uint64("appends_waited", b.appends), zap.Int64("bytes_waited", b.bytes),
		zap.Int64("bytes", p.bytes.Load()))
	b.appends, b.bytes = 0, 0
}

// blockedNanos is the time blocked so far, the current episode included.
func (b *blockEpisodes) blockedNanos(now time.Time) int64 {
	t := b.total.Load()
	if since := b.since.Load(); since != 0 {
		t += max(now.UnixNano()-since, 0)
	}
	return t
}
