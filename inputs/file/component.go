package file

import (
	"context"
	"sync/atomic"

	"github.com/capstan-agent/capstan/component"
)

// NewFactory makes the factory of the file input type.
func NewFactory() component.InputFactory {
	return component.NewInputFactory("file", func() *Config { c := Defaults(Config{}); return &c }, newComponent)
}

// fileInput is the input as the agent runs it: built from its Config
// without touching anything, it makes the tailer when it runs.
type fileInput struct {
	cfg Config
	set component.Settings
	in  atomic.Pointer[Input]
}

func newComponent(set component.Settings, c *Config) (component.Input, error) {
	cfg := Defaults(*c)
	cfg.Name = set.ID.Name
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &fileInput{cfg: cfg, set: set}, nil
}

// Run makes the tailer for the host's partitions and runs it.
func (f *fileInput) Run(ctx context.Context, host component.InputHost) error {
	tgt := Target{AgentID: host.AgentID(), PositionsPath: host.PositionsPath(), Attributes: f.set.Attributes}
	for _, p := range host.Partitions() {
		tgt.Partitions = append(tgt.Partitions, p)
	}
	in, err := New(f.cfg, tgt, f.set.Logger)
	if err != nil {
		return err
	}
	f.in.Store(in)
	host.Ready()
	return in.Run(ctx)
}

// Metrics reports the input's counters in the input vocabulary.
func (f *fileInput) Metrics() []component.Metric {
	in := f.in.Load()
	if in == nil {
		return nil
	}
	s := &in.stats
	return []component.Metric{
		component.C("records_total", s.Records.Load()),
		component.C("bytes_total", s.Bytes.Load()),
		component.C("batches_total", s.Batches.Load()),
		component.C("duplicate_batches_total", s.Duplicates.Load()),
		component.C("truncated_records_total", s.Truncated.Load()),
		component.C("parse_errors_total", s.Invalid.Load()),
		component.L("errors_total", s.Errors.Load(), "read"),
		component.G("files_tracked", s.FilesTracked.Load()),
		component.G("files_open", s.FilesOpen.Load()),
		component.G("unread_bytes", s.UnreadBytes.Load()),
		component.G("files_unreadable", s.FilesUnreadable.Load()),
		component.L("file_events_total", s.Truncations.Load(), "truncated"),
		component.L("file_events_total", s.Copies.Load(), "copied"),
		component.L("file_events_total", s.Released.Load(), "released"),
	}
}
