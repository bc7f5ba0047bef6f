package delivery

import (
	"context"
	"fmt"
	"os"
	"strconv"

	"go.uber.org/zap"

	"github.com/capstan-agent/capstan/component"
	"github.com/capstan-agent/capstan/spool/batch"
)

// Attributes a dead-lettered record carries besides its own.
const (
	// AttrDeadLetterReason is the class of the refusal (a metric label:
	// "encode", "http_400", "mapper_parsing_exception", "too_large",
	// "retries_exhausted").
	AttrDeadLetterReason = "capstan.dead_letter.reason"
	// AttrDeadLetterMessage is what the destination said.
	AttrDeadLetterMessage = "capstan.dead_letter.message"
	// AttrDeadLetterOutput is the output that gave up on the record.
	AttrDeadLetterOutput = "capstan.dead_letter.output"
	// AttrDeadLetterOrigin is where the record was: stream/partition:offset.
	AttrDeadLetterOrigin = "capstan.dead_letter.origin"
)

// deadItem is a record to dead-letter.
type deadItem struct {
	off            uint64
	reason, detail string
}

// deadLetter is where refused records go. put may buffer; flush writes;
// both are called under Engine.dlMu.
type deadLetter interface {
	put(ctx context.Context, rec *Record, reason, detail string) error
	flush(ctx context.Context) error
	sync() error
	close() error
}

func openDeadLetter(e *Engine, host component.OutputHost) (deadLetter, error) {
	cfg := e.opts.DeadLetter
	switch {
	case cfg.Stream != "":
		h, ok := host.(component.DeadLetterHost)
		var parts []component.Partition
		if ok {
			parts = h.DeadLetterPartitions()
		}
		if len(parts) == 0 {
			return nil, fmt.Errorf("dead_letter.stream: stream %q is not open for output %s", cfg.Stream, e.name)
		}
		return &streamDeadLetter{output: e.name, parts: parts}, nil
	case cfg.Path != "":
		f, err := os.OpenFile(cfg.Path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			return nil, fmt.Errorf("dead_letter.path: %w", err)
		}
		return &fileDeadLetter{output: e.name, f: f}, nil
	}
	return noDeadLetter{}, nil
}

// deadLetterRecord dead-letters one record the lane could not encode.
func (e *Engine) deadLetterRecord(ctx context.Context, rec *Record, reason, detail string) error {
	e.stats.dead.add(reason, 1)
	if _, none := e.dl.(noDeadLetter); none {
		e.logDropped(rec.Partition.String(), rec.Offset, 1, reason, detail)
		return nil
	}
	e.dlMu.Lock()
	defer e.dlMu.Unlock()
	if err := e.dl.put(ctx, rec, reason, detail); err != nil {
		return err
	}
	return e.dl.flush(ctx)
}

// deadLetterAll dead-letters every record of req.
func (e *Engine) deadLetterAll(ctx context.Context, req *Request, reason, detail string) bool {
	items := make([]deadItem, 0, req.n)
	for _, rn := range req.runs {
		for j := 0; j < rn.n; j++ {
			items = append(items, deadItem{off: rn.first + uint64(j), reason: reason, detail: detail})
		}
	}
	return e.deadLetter(ctx, req.lane, items)
}

// deadLetter dead-letters records of lane l (items ascending by offset),
// read again from the spool. It is false if that could not be done (the
// output stopped): the records are then not resolved.
func (e *Engine) deadLetter(ctx context.Context, l *lane, items []deadItem) bool {
	for _, it := range items {
		e.stats.dead.add(it.reason, 1)
	}
	if _, none := e.dl.(noDeadLetter); none {
		e.logDropped(l.key.String(), items[0].off, len(items), items[0].reason, items[0].detail)
		return true
	}
	offs := make([]uint64, len(items))
	for i, it := range items {
		offs[i] = it.off
	}
	e.dlMu.Lock()
	defer e.dlMu.Unlock()
	err := e.reread(l, offs, func(k int, rec *Record) error {
		return e.dl.put(ctx, rec, items[k].reason, items[k].detail)
	})
	if err == nil {
		err = e.dl.flush(ctx)
	}
	if err != nil {
		e.log.Error("dead letter failed; the records stay unresolved and go again at the next run",
			zap.Stringer("partition", l.key), zap.Int("records", len(items)), zap.Error(err))
		return false
	}
	e.log.Warn("records refused for good, sent to the dead letter", zap.Stringer("partition", l.key),
		zap.Uint64("first", items[0].off), zap.Int("records", len(items)),
		zap.String("reason", items[0].reason), zap.String("message", items[0].detail))
	return true
}

func (e *Engine) logDropped(partition string, first uint64, n int, reason, detail string) {
	e.log.Warn("records refused for good and dropped: no dead_letter is configured", zap.String("partition", partition),
		zap.Uint64("first", first), zap.Int("records", n), zap.String("reason", reason), zap.String("message", detail))
}

// noDeadLetter: records are counted and logged by the engine.
type noDeadLetter struct{}

func (noDeadLetter) put(context.Context, *Record, string, string) error { return nil }
func (noDeadLetter) flush(context.Context) error                        { return nil }
func (noDeadLetter) sync() error                                        { return nil }
func (noDeadLetter) close() error                                       { return nil }

// deadAttrs are the attributes a dead-lettered record gets.
type deadAttrs struct {
	attrs  []batch.Attr
	origin []byte
}

func (d *deadAttrs) make(output string, rec *Record, reason, detail string) []batch.Attr {
	d.origin = append(append(d.origin[:0], rec.Partition.String()...), ':')
	d.origin = strconv.AppendUint(d.origin, rec.Offset, 10)
	d.attrs = append(d.attrs[:0],
		batch.Attr{Key: []byte(AttrDeadLetterReason), Value: []byte(reason)},
		batch.Attr{Key: []byte(AttrDeadLetterMessage), Value: []byte(detail)},
		batch.Attr{Key: []byte(AttrDeadLetterOutput), Value: []byte(output)},
		batch.Attr{Key: []byte(AttrDeadLetterOrigin), Value: d.origin})
	return d.attrs
}

// streamDeadLetter appends refused records to a stream of the spool, with
// their batch's source attributes and the dead-letter attributes: another
// output can ship them, `capstan spool dump` shows them. A record's
// partition there is its partition here, modulo the stream's partitions.
type streamDeadLetter struct {
	output string
	parts  []component.Partition
	b      batch.Builder
	part   component.Partition // of the batch being built, nil for none
	base   uint64              // base offset of the source batch
	dead   deadAttrs
	own    []batch.Attr
	src    []batch.Attr
}

// deadBatchBytes bounds a dead-letter batch.
const deadBatchBytes = 1 << 20

func (s *streamDeadLetter) put(ctx context.Context, rec *Record, reason, detail string) error {
	p := s.parts[rec.Partition.Partition%len(s.parts)]
	if s.part != nil && (s.part != p || s.base != rec.batch || s.b.Len() > deadBatchBytes) {
		if err := s.flush(ctx); err != nil {
			return err
		}
	}
	if s.part == nil {
		s.src = s.src[:0]
		src := rec.SourceAttrs()
		for k, v, ok := src.Next(); ok; k, v, ok = src.Next() {
			s.src = append(s.src, batch.Attr{Key: k, Value: v})
		}
		s.b.Reset(0, s.src)
		s.part, s.base = p, rec.batch
	}
	s.own = s.own[:0]
	own := rec.Attrs()
	for k, v, ok := own.Next(); ok; k, v, ok = own.Next() {
		s.own = append(s.own, batch.Attr{Key: k, Value: v})
	}
	s.own = append(s.own, s.dead.make(s.output, rec, reason, detail)...)
	s.b.AddWithAttrs(rec.Timestamp, rec.Body, s.own)
	return nil
}

func (s *streamDeadLetter) flush(ctx context.Context) error {
	if s.part == nil || s.b.Count() == 0 {
		s.part = nil
		return nil
	}
	p := s.part
	s.part = nil
	if _, err := p.Append(ctx, s.b.Bytes()); err != nil {
		return fmt.Errorf("append to the dead-letter stream: %w", err)
	}
	return nil
}

func (s *streamDeadLetter) sync() error  { return nil } // the spool's fsync policy holds
func (s *streamDeadLetter) close() error { return nil }

// fileDeadLetter appends refused records to a file as NDJSON lines (as the
// ndjson encoding writes them, the dead-letter attributes last in attrs).
type fileDeadLetter struct {
	output string
	f      *os.File
	buf    []byte
	dead   deadAttrs
	dirty  bool
}

func (d *fileDeadLetter) put(_ context.Context, rec *Record, reason, detail string) error {
	d.buf = append(appendJSON(d.buf, rec.SourceAttrs(), &rec.Record, d.dead.make(d.output, rec, reason, detail)), '\n')
	return nil
}

func (d *fileDeadLetter) flush(context.Context) error {
	if len(d.buf) == 0 {
		return nil
	}
	_, err := d.f.Write(d.buf)
	d.buf = d.buf[:0]
	d.dirty = true
	if err != nil {
		return fmt.Errorf("write dead-letter file %s: %w", d.f.Name(), err)
	}
	return nil
}

func (d *fileDeadLetter) sync() error {
	if !d.dirty {
		return nil
	}
	d.dirty = false
	return d.f.Sync()
}

func (d *fileDeadLetter) close() error {
	err := d.sync()
	if cerr := d.f.Close(); err == nil {
		err = cerr
	}
	return err
}
