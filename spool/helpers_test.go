package spool

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/capstan-agent/capstan/spool/batch"
)

// mkBatch builds a batch of n records whose bodies name the batch, so that
// tests can tell every record apart.
func mkBatch(producer, seq uint64, n int, tag string) []byte {
	var b batch.Builder
	b.Reset(producer, []batch.Attr{batch.StringAttr("src", tag)})
	for i := 0; i < n; i++ {
		b.Add(int64(seq)*1000+int64(i), fmt.Appendf(nil, "%s-%d-%d", tag, seq, i))
	}
	b.SetSequence(seq)
	return bytes.Clone(b.Bytes())
}

// mkBatchV2 is mkBatch in batch format version 2, with a typed attribute
// per record, so that spool tests walk both versions side by side.
func mkBatchV2(producer, seq uint64, n int, tag string) []byte {
	var b batch.Builder
	b.ResetV2(producer, int64(seq), []batch.Attr{batch.StringAttr("src", tag)})
	for i := 0; i < n; i++ {
		b.AddWithAttrs(int64(seq)*1000+int64(i), fmt.Appendf(nil, "%s-%d-%d", tag, seq, i), []batch.Attr{batch.IntAttr("i", int64(i))})
	}
	b.SetSequence(seq)
	return bytes.Clone(b.Bytes())
}

func openTest(t testing.TB, dir string, opts Options) *Spool {
	t.Helper()
	s, err := Open(dir, opts)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func mustStream(t testing.TB, s *Spool, name string, opts StreamOptions) *Stream {
	t.Helper()
	st, err := s.Stream(name, opts)
	if err != nil {
		t.Fatalf("stream: %v", err)
	}
	return st
}

func mustAppend(t testing.TB, p *Partition, b []byte) AppendResult {
	t.Helper()
	res, err := p.Append(context.Background(), b)
	if err != nil {
		t.Fatalf("append: %v", err)
	}
	return res
}

// readAll reads a partition from offset from to its end and returns the
// records by offset, decoding every batch. Batches that fail to decode are
// counted in bad; reader errors (gaps, corruption) in skipped.
func readAll(t testing.TB, p *Partition, from uint64) (recs map[uint64]string, bad, skipped int) {
	t.Helper()
	recs = map[uint64]string{}
	r := p.NewReader(from)
	for i := 0; i < 1_000_000; i++ {
		rg, err := r.Next(1 << 20)
		if errors.Is(err, ErrNoData) {
			return recs, bad, skipped
		}
		var ce *CorruptionError
		var ge *GapError
		if errors.As(err, &ce) || errors.As(err, &ge) {
			skipped++
			continue
		}
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		buf := make([]byte, rg.Len)
		if _, err := rg.File.ReadAt(buf, rg.Pos); err != nil {
			t.Fatalf("read range: %v", err)
		}
		for len(buf) > 0 {
			h, herr := batch.ParseHeader(buf)
			if herr != nil || h.Size() > int64(len(buf)) {
				t.Fatalf("range holds a partial batch: %v", herr)
			}
			bt, n, err := batch.Decode(buf)
			if err != nil {
				bad++
				buf = buf[h.Size():]
				continue
			}
			it := bt.Records()
			var rec batch.Record
			for it.Next(&rec) {
				if rec.Offset >= from {
					recs[rec.Offset] = string(rec.Body)
				}
			}
			buf = buf[n:]
		}
	}
	t.Fatal("reader did not reach the end")
	return
}
