package shipper

import (
	"context"
	"fmt"
)

func (g *Group) notify() {
	g.progressMu.Lock()
	close(g.progress)
	g.progress = make(chan struct{})
	g.progressMu.Unlock()
}

func (g *Group) progressChan() <-chan struct{} {
	g.progressMu.Lock()
	defer g.progressMu.Unlock()
	return g.progress
}

// Drain waits until every cursor has been acknowledged up to what its
// partition held when Drain was called, or ctx ends; then the error says how
// many records were left.
func (g *Group) Drain(ctx context.Context) error {
	targets := make([]uint64, len(g.cursors))
	for i, c := range g.cursors {
		targets[i] = c.part.NextOffset()
	}
	for {
		ch := g.progressChan()
		var left uint64
		for i, c := range g.cursors {
			if a := c.Acked(); a < targets[i] {
				left += targets[i] - a
			}
		}
		if left == 0 {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("output %s: %d records not delivered: %w", g.name, left, ctx.Err())
		}
	}
}
