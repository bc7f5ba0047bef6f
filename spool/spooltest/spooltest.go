// Package spooltest holds helpers for tests that use a spool (the shipper,
// its outputs, the forward input): spools in temp dirs, batches of numbered
// records, and reading a partition back.
package spooltest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/capstan-agent/capstan/spool"
	"github.com/capstan-agent/capstan/spool/batch"
)

// Open opens a spool in dir with streams of the given partitions, closed at
// the end of the test.
func Open(t testing.TB, dir string, opts spool.Options, streams map[string]int) *spool.Spool {
	t.Helper()
	s, err := spool.Open(dir, opts)
	if err != nil {
		t.Fatalf("open spool: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	for name, n := range streams {
		if _, err := s.Stream(name, spool.StreamOptions{Partitions: n}); err != nil {
			t.Fatalf("stream %s: %v", name, err)
		}
	}
	return s
}

// Stream returns an open stream of s.
func Stream(t testing.TB, s *spool.Spool, name string) *spool.Stream {
	t.Helper()
	st, err := s.Stream(name, spool.StreamOptions{})
	if err != nil {
		t.Fatalf("stream %s: %v", name, err)
	}
	return st
}

// Batch builds a batch of records numbered from first to first+n-1, with
// bodies "<tag>-<number>", and producer/sequence as given (sequence = 0
// means first+n).
func Batch(producer uint64, tag string, first, n int) []byte {
	var b batch.Builder
	b.Reset(producer, []batch.Attr{batch.StringAttr("src", tag)})
	for i := first; i < first+n; i++ {
		b.Add(int64(i), fmt.Appendf(nil, "%s-%d", tag, i))
	}
	b.SetSequence(uint64(first + n))
	return bytes.Clone(b.Bytes())
}

// AppendNumbered appends count records numbered from first, in batches of
// per, to p.
func AppendNumbered(t testing.TB, p *spool.Partition, producer uint64, tag string, first, count, per int) {
	t.Helper()
	for i := first; i < first+count; i += per {
		n := min(per, first+count-i)
		if _, err := p.Append(context.Background(), Batch(producer, tag, i, n)); err != nil {
			t.Fatalf("append: %v", err)
		}
	}
}

// Bodies reads partition p from offset 0 to its end and returns every
// record body in order.
func Bodies(t testing.TB, p *spool.Partition) []string {
	t.Helper()
	bodies, err := ReadBodies(p)
	if err != nil {
		t.Fatal(err)
	}
	return bodies
}

// ReadBodies reads p from its oldest offset and returns every record body.
func ReadBodies(p *spool.Partition) ([]string, error) {
	var out []string
	r := p.NewReader(p.OldestOffset())
	buf := make([]byte, 0, 1<<20)
	for {
		rg, err := r.Next(1 << 20)
		if errors.Is(err, spool.ErrNoData) {
			return out, nil
		}
		if err != nil {
			return out, fmt.Errorf("read %d: %w", r.Offset(), err)
		}
		buf = buf[:rg.Len]
		if _, err := rg.File.ReadAt(buf, rg.Pos); err != nil && err != io.EOF {
			return out, err
		}
		for b := buf; len(b) > 0; {
			bt, size, err := batch.Decode(b)
			if err != nil {
				return out, fmt.Errorf("decode at %d: %w", rg.First, err)
			}
			it := bt.Records()
			var rec batch.Record
			for it.Next(&rec) {
				out = append(out, string(rec.Body))
			}
			b = b[size:]
		}
	}
}
