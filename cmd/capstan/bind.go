package main

import (
	"context"
	"sync"

	"github.com/capstan-agent/capstan/agent"
)

// bindOnRun builds a component that binds its sockets in its constructor only
// when it runs: on a reload the agent builds the new instance while the old
// one still holds the port. It is ready once built.
type bindOnRun[C agent.Component] struct {
	build   func() (C, error)
	metrics func(C) []agent.Metric

	mu    sync.Mutex
	c     C
	built bool
}

func (b *bindOnRun[C]) Run(ctx context.Context) error {
	c, err := b.build()
	if err != nil {
		return err
	}
	b.mu.Lock()
	b.c, b.built = c, true
	b.mu.Unlock()
	return c.Run(ctx)
}

// Ready is true once the component is built, its sockets bound.
func (b *bindOnRun[C]) Ready() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.built
}

func (b *bindOnRun[C]) Metrics() []agent.Metric {
	b.mu.Lock()
	c, built := b.c, b.built
	b.mu.Unlock()
	if !built || b.metrics == nil {
		return nil
	}
	return b.metrics(c)
}
