package shipper

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/capstan-agent/capstan/spool"
)

// StartAt says where an output starts on a partition it has no checkpoint for.
type StartAt string

// Start positions.
const (
	StartOldest StartAt = "oldest" // everything still in the spool
	StartNewest StartAt = "newest" // only what is appended from now on
)

// Validate checks the value; empty means StartOldest.
func (s StartAt) Validate() error {
	switch s {
	case "", StartOldest, StartNewest:
		return nil
	}
	return fmt.Errorf("start_at %q: want oldest or newest", string(s))
}

// Checkpointer stores committed offsets per consumer; *spool.Checkpoints is
// one. Commit is durable when it returns; CommitNoSync replaces the file
// without waiting for the disk (a killed process keeps it), and Sync makes
// it durable.
type Checkpointer interface {
	Register(consumer string) (map[spool.Key]uint64, error)
	Commit(consumer string, offsets map[spool.Key]uint64) error
	CommitNoSync(consumer string, offsets map[spool.Key]uint64) error
	Sync(consumer string) error
}

// CommitInterval is how often a Group commits acknowledged offsets.
const CommitInterval = time.Second

// Group is an output's cursors, one per partition of each stream it reads,
// and the committer of their acknowledged offsets. The consumer name is the
// output's name.
type Group struct {
	name    string
	cps     Checkpointer
	cursors []*Cursor
	log     *zap.Logger

	mu        sync.Mutex // serialises commits
	committed map[spool.Key]uint64

	progressMu sync.Mutex
	progress   chan struct{} // closed and replaced when a cursor's ack moves
}

// NewGroup registers the output with the checkpoint store and opens a cursor
// for every partition of streams, at its committed offset, or at start for a
// partition never committed. A committed offset beyond the partition's next
// offset is logged and replaced by the next offset. The starting offsets are
// committed at once, so that start_at newest holds across a restart and
// retention knows the output.
func NewGroup(name string, cps Checkpointer, streams []*spool.Stream, start StartAt, log *zap.Logger) (*Group, error) {
	if log == nil {
		log = zap.NewNop()
	}
	if err := start.Validate(); err != nil {
		return nil, err
	}
	committed, err := cps.Register(name)
	if errors.Is(err, spool.ErrPreviousCheckpoint) {
		// A power loss tore the last commit: resume at the one before and
		// send again what was delivered since.
		log.Warn("checkpoint damaged; resuming at the commit before it", zap.String("output", name), zap.Error(err))
	} else if errors.Is(err, spool.ErrBadCheckpoint) {
		// Re-sending is better than losing: start over from the oldest.
		log.Error("checkpoint unreadable; sending from the oldest offsets", zap.String("output", name), zap.Error(err))
		start, committed = StartOldest, map[spool.Key]uint64{}
	} else if err != nil {
		return nil, fmt.Errorf("register output %s: %w", name, err)
	}
	g := &Group{name: name, cps: cps, log: log, committed: map[spool.Key]uint64{}, progress: make(chan struct{})}
	initial := map[spool.Key]uint64{}
	for _, st := range streams {
		for _, p := range st.Partitions() {
			key := spool.Key{Stream: st.Name(), Partition: p.ID()}
			from, ok := committed[key]
			if next := p.NextOffset(); ok && from > next {
				// No delivery commits past the end: a bug did, or a power
				// loss took the data behind it. Resuming there would skip
				// every record appended until the end reached it again.
				log.Error("checkpoint beyond the end of the partition; resuming at the end",
					zap.String("output", name), zap.Stringer("partition", key),
					zap.Uint64("checkpoint", from), zap.Uint64("next_offset", next))
				from, ok = next, false
			} else if !ok {
				from = p.OldestOffset()
				if start == StartNewest {
					from = next
				}
			}
			if !ok {
				initial[key] = from
			}
			g.committed[key] = from
			c := newCursor(name, key, p, from, log)
			c.notify = g.notify
			g.cursors = append(g.cursors, c)
		}
	}
	if len(initial) > 0 {
		if err := cps.Commit(name, initial); err != nil {
			return nil, fmt.Errorf("commit start offsets of output %s: %w", name, err)
		}
	}
	return g, nil
}

// Name is the output's (consumer's) name.
func (g *Group) Name() string { return g.name }

// Cursors are the group's cursors, in stream and partition order.
func (g *Group) Cursors() []*Cursor { return g.cursors }

// Commit writes the acknowledged offsets that moved since the last commit,
// durably.
func (g *Group) Commit() error { return g.commit(g.cps.Commit) }

// CommitNoSync writes the acknowledged offsets that moved since the last
// commit without waiting for the disk; Sync makes them durable. It returns
// whether anything was written.
func (g *Group) CommitNoSync() (bool, error) {
	wrote := false
	err := g.commit(func(name string, offsets map[spool.Key]uint64) error {
		wrote = true
		return g.cps.CommitNoSync(name, offsets)
	})
	return wrote, err
}

// Sync makes the group's last commit durable.
func (g *Group) Sync() error {
	if err := g.cps.Sync(g.name); err != nil {
		return fmt.Errorf("sync checkpoint of output %s: %w", g.name, err)
	}
	return nil
}

func (g *Group) commit(write func(string, map[spool.Key]uint64) error) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	changed := map[spool.Key]uint64{}
	for _, c := range g.cursors {
		if a := c.Acked(); a != g.committed[c.key] {
			changed[c.key] = a
		}
	}
	if len(changed) == 0 {
		return nil
	}
	if err := write(g.name, changed); err != nil {
		return fmt.Errorf("commit output %s: %w", g.name, err)
	}
	for k, v := range changed {
		g.committed[k] = v
	}
	return nil
}

// Run commits every CommitInterval until ctx ends, then once more. The
// output calls Commit again after its senders stopped, for the last acks.
func (g *Group) Run(ctx context.Context) error {
	t := time.NewTicker(CommitInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return g.Commit()
		case <-t.C:
			if err := g.Commit(); err != nil {
				// The next tick tries again; acked offsets are kept in memory.
				g.log.Error("checkpoint commit failed", zap.String("output", g.name), zap.Error(err))
			}
		}
	}
}
