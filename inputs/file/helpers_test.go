package file

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
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
	body  string
	ts    int64
	attrs map[string]string // source and record attributes
	prod  uint64
	seq   uint64
}

// harness runs an input over a real spool in a temp dir.
type harness struct {
	t      testing.TB
	dir    string // data dir
	logs   string // where test files live
	sp     *spool.Spool
	st     *spool.Stream
	cfg    Config
	in     *Input
	cancel context.CancelFunc
	done   chan error
}

func newHarness(t testing.TB, cfg Config, partitions int) *harness {
	t.Helper()
	h := &harness{t: t, dir: t.TempDir(), logs: t.TempDir(), cfg: cfg}
	if h.cfg.Name == "" {
		h.cfg.Name = "files"
	}
	if h.cfg.StartAt == "" {
		h.cfg.StartAt = "beginning" // tests write their files before the input starts
	}
	if h.cfg.ScanInterval == 0 {
		h.cfg.ScanInterval = 50 * time.Millisecond
	}
	if h.cfg.PollInterval == 0 {
		h.cfg.PollInterval = 20 * time.Millisecond
	}
	if h.cfg.RotateWait == 0 {
		h.cfg.RotateWait = 300 * time.Millisecond
	}
	for i, p := range h.cfg.Include {
		h.cfg.Include[i] = strings.ReplaceAll(p, "$LOGS", h.logs)
	}
	for i, p := range h.cfg.Exclude {
		h.cfg.Exclude[i] = strings.ReplaceAll(p, "$LOGS", h.logs)
	}
	h.open(partitions)
	t.Cleanup(func() { h.stop(); h.sp.Close() })
	return h
}

func (h *harness) open(partitions int) {
	sp, err := spool.Open(h.dir, spool.Options{Fsync: spool.FsyncNever})
	if err != nil {
		h.t.Fatalf("open spool: %v", err)
	}
	st, err := sp.Stream("logs", spool.StreamOptions{Partitions: partitions})
	if err != nil {
		h.t.Fatalf("stream: %v", err)
	}
	h.sp, h.st = sp, st
}

func (h *harness) start() {
	h.t.Helper()
	in, err := New(h.cfg, SpoolTarget(h.sp, h.st, h.cfg.Name), testLogger(h.t))
	if err != nil {
		h.t.Fatalf("new: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.in, h.cancel, h.done = in, cancel, make(chan error, 1)
	go func() { h.done <- in.Run(ctx) }()
}

func (h *harness) stop() {
	if h.cancel == nil {
		return
	}
	h.cancel()
	if err := <-h.done; err != nil {
		h.t.Errorf("run: %v", err)
	}
	h.cancel = nil
}

// restart stops the input, reopens the spool and starts a new input, as a
// restarted agent would.
func (h *harness) restart() {
	h.stop()
	h.sp.Close()
	h.open(len(h.st.Partitions()))
	h.start()
}

func (h *harness) path(name string) string { return filepath.Join(h.logs, name) }

// records reads every record of every partition, in partition order.
func (h *harness) records() []rec {
	h.t.Helper()
	return readRecords(h.t, h.st)
}

func readRecords(t testing.TB, st *spool.Stream) []rec {
	var out []rec
	for _, p := range st.Partitions() {
		r := p.NewReader(0)
		for {
			rg, err := r.Next(64 << 20)
			if errors.Is(err, spool.ErrNoData) {
				break
			}
			if err != nil {
				t.Fatalf("read spool: %v", err)
			}
			buf := make([]byte, rg.Len)
			if _, err := rg.File.ReadAt(buf, rg.Pos); err != nil {
				t.Fatalf("read range: %v", err)
			}
			out = append(out, decodeAll(t, buf)...)
		}
	}
	return out
}

// decodeAll decodes a run of whole batches.
func decodeAll(t testing.TB, buf []byte) []rec {
	var out []rec
	for len(buf) > 0 {
		b, n, err := batch.Decode(buf)
		if err != nil {
			t.Fatalf("decode: %v", err)
		}
		src := map[string]string{}
		it := b.SourceAttrs()
		for k, v, ok := it.Next(); ok; k, v, ok = it.Next() {
			src[string(k)] = string(v)
		}
		recs := b.Records()
		var rr batch.Record
		for recs.Next(&rr) {
			attrs := map[string]string{}
			for k, v := range src {
				attrs[k] = v
			}
			ai := rr.Attrs()
			for k, v, ok := ai.Next(); ok; k, v, ok = ai.Next() {
				attrs[string(k)] = string(v)
			}
			out = append(out, rec{body: string(rr.Body), ts: rr.Timestamp, attrs: attrs, prod: b.Producer, seq: b.Sequence})
		}
		buf = buf[n:]
	}
	return out
}

// waitFor polls the spool until cond holds of its records, or fails after a
// generous deadline (a hang is a failure, not a slow pass).
func (h *harness) waitFor(what string, cond func([]rec) bool) []rec {
	h.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		recs := h.records()
		if cond(recs) {
			return recs
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out waiting for %s; have %d records", what, len(recs))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// settled is the check that nothing more comes: it waits until the input
// has appended nothing for settle while it scanned its globs (and read every
// file after) twice, and returns the spool's records.
func (h *harness) settled(what string, settle time.Duration) []rec {
	h.t.Helper()
	type progress struct{ records, bytes uint64 }
	st := h.in.Stats()
	componenttest.Quiesce(h.t, componenttest.Quiet[progress]{
		What:     what,
		Observe:  func() progress { return progress{st.Records.Load(), st.Bytes.Load()} },
		Settle:   settle,
		Progress: st.Scans.Load,
		Rounds:   2,
	})
	return h.records()
}

func (h *harness) waitCount(n int) []rec {
	h.t.Helper()
	return h.waitFor(fmt.Sprintf("%d records", n), func(r []rec) bool { return len(r) >= n })
}

func bodies(recs []rec) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.body
	}
	return out
}

func writeFile(t testing.TB, path, s string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func appendFile(t testing.TB, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
}

// numbered makes lines "<prefix>-<i>\n" for i in [from, to).
func numbered(prefix string, from, to int) string {
	var b strings.Builder
	for i := from; i < to; i++ {
		fmt.Fprintf(&b, "%s-%d\n", prefix, i)
	}
	return b.String()
}

// checkExactlyOnce fails unless the records are exactly want, each once,
// in order per prefix.
func checkExactlyOnce(t testing.TB, recs []rec, want map[string]int) {
	t.Helper()
	next := map[string]int{}
	for _, r := range recs {
		var p string
		var n int
		i := strings.LastIndexByte(r.body, '-')
		if i < 0 {
			t.Fatalf("unexpected record %q", r.body)
		}
		p = r.body[:i]
		if _, err := fmt.Sscan(r.body[i+1:], &n); err != nil {
			t.Fatalf("unexpected record %q", r.body)
		}
		if n != next[p] {
			t.Fatalf("%s: got %d, want %d (lost or duplicated)", p, n, next[p])
		}
		next[p]++
	}
	for p, n := range want {
		if next[p] != n {
			t.Fatalf("%s: %d records, want %d", p, next[p], n)
		}
	}
}

func testLogger(t testing.TB) *zap.Logger {
	if os.Getenv("CAPSTAN_TEST_LOG") == "" {
		return nil
	}
	return zaptest.NewLogger(t)
}
