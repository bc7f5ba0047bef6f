package socket

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/capstan-agent/capstan/component/componenttest"
	"github.com/capstan-agent/capstan/spool"
	"github.com/capstan-agent/capstan/spool/batch"
)

// rec is a record read back from the spool.
type rec struct {
	part  int
	ts    int64
	body  string
	attrs map[string]string
}

// harness runs an input over a real spool in a temp dir.
type harness struct {
	t      testing.TB
	sp     *spool.Spool
	st     *spool.Stream
	in     *Input
	cancel context.CancelFunc
	done   chan error
}

func start(t testing.TB, cfg Config, partitions int) *harness {
	t.Helper()
	sp, err := spool.Open(t.TempDir(), spool.Options{Fsync: spool.FsyncNever})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sp.Close() })
	st, err := sp.Stream("logs", spool.StreamOptions{Partitions: partitions})
	if err != nil {
		t.Fatal(err)
	}
	var parts []Appender
	for _, p := range st.Partitions() {
		parts = append(parts, p)
	}
	return startWith(t, cfg, parts, sp, st)
}

func startWith(t testing.TB, cfg Config, parts []Appender, sp *spool.Spool, st *spool.Stream) *harness {
	t.Helper()
	if cfg.Name == "" {
		cfg.Name = "test"
	}
	log := zap.NewNop()
	if _, bench := t.(*testing.B); !bench {
		log = zaptest.NewLogger(t, zaptest.Level(zap.InfoLevel))
	}
	in, err := New(cfg, parts, log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := &harness{t: t, sp: sp, st: st, in: in, cancel: cancel, done: make(chan error, 1)}
	go func() { h.done <- in.Run(ctx) }()
	t.Cleanup(h.stop)
	return h
}

// stop ends Run and waits for it; safe to call twice.
func (h *harness) stop() {
	h.cancel()
	if h.done != nil {
		if err := <-h.done; err != nil {
			h.t.Errorf("Run: %v", err)
		}
		h.done = nil
	}
}

func (h *harness) addr(i int) string { return h.in.Addrs()[i].String() }

// waitFor waits up to a minute for cond, failing with what it waited for.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	componenttest.WaitFor(t, time.Minute, what, cond)
}

// records reads every record of the stream, partition by partition.
func (h *harness) records() []rec {
	var out []rec
	h.each(func(r rec) { out = append(out, r) })
	return out
}

// count is the number of records in the stream, from batch headers
// (each batch's CRC checked).
func (h *harness) count() int {
	n := 0
	for _, p := range h.st.Partitions() {
		r := p.NewReader(0)
		for {
			rg, err := r.Next(64 << 20)
			if errors.Is(err, spool.ErrNoData) {
				break
			}
			if err != nil {
				h.t.Fatalf("read partition %d: %v", p.ID(), err)
			}
			buf := make([]byte, rg.Len)
			if _, err := rg.File.ReadAt(buf, rg.Pos); err != nil {
				h.t.Fatal(err)
			}
			for len(buf) > 0 {
				hd, size, err := batch.Check(buf)
				if err != nil {
					h.t.Fatalf("check: %v", err)
				}
				n += int(hd.Count)
				buf = buf[size:]
			}
		}
	}
	return n
}

func (h *harness) each(fn func(rec)) {
	h.t.Helper()
	for _, p := range h.st.Partitions() {
		r := p.NewReader(0)
		for {
			rg, err := r.Next(64 << 20)
			if errors.Is(err, spool.ErrNoData) {
				break
			}
			if err != nil {
				h.t.Fatalf("read partition %d: %v", p.ID(), err)
			}
			buf := make([]byte, rg.Len)
			if _, err := rg.File.ReadAt(buf, rg.Pos); err != nil {
				h.t.Fatal(err)
			}
			for len(buf) > 0 {
				bt, n, err := batch.Decode(buf)
				if err != nil {
					h.t.Fatalf("decode: %v", err)
				}
				sa := bt.SourceAttrs()
				if k, v, ok := sa.Next(); !ok || string(k) != "input" || len(v) == 0 {
					h.t.Fatalf("source attrs: %q=%q", k, v)
				}
				it := bt.Records()
				var r batch.Record
				for it.Next(&r) {
					attrs := map[string]string{}
					ai := r.Attrs()
					for k, v, ok := ai.Next(); ok; k, v, ok = ai.Next() {
						attrs[string(k)] = string(v)
					}
					fn(rec{p.ID(), r.Timestamp, string(r.Body), attrs})
				}
				if it.Err() != nil {
					h.t.Fatal(it.Err())
				}
				buf = buf[n:]
			}
		}
	}
}

func sockPath(t *testing.T, name string) string {
	// Unix socket paths are short (108 bytes): t.TempDir can be too long.
	dir, err := os.MkdirTemp("", "capstan-sock")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return filepath.Join(dir, name)
}

func dial(t *testing.T, network, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func line(client, seq int) string { return fmt.Sprintf("client=%d seq=%d", client, seq) }

type nopAppender struct{}

func (nopAppender) Append(context.Context, []byte) (spool.AppendResult, error) {
	return spool.AppendResult{}, nil
}
