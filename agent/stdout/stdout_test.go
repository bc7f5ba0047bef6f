package stdout

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/capstan-agent/capstan/spool"
	"github.com/capstan-agent/capstan/spool/batch"
	"go.uber.org/goleak"
)

// syncBuffer is a writer the test can read while the output writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func openSpool(t *testing.T, dir string) (*spool.Spool, *spool.Stream) {
	t.Helper()
	sp, err := spool.Open(dir, spool.Options{Fsync: spool.FsyncNever})
	if err != nil {
		t.Fatal(err)
	}
	st, err := sp.Stream("default", spool.StreamOptions{Partitions: 2})
	if err != nil {
		t.Fatal(err)
	}
	return sp, st
}

func appendLines(t *testing.T, p *spool.Partition, lines ...string) {
	t.Helper()
	var b batch.Builder
	b.Reset(0, []batch.Attr{batch.StringAttr("path", "/var/log/a.log")})
	for i, l := range lines {
		b.Add(int64(1700000000e9+i), []byte(l))
	}
	if _, err := p.Append(context.Background(), b.Bytes()); err != nil {
		t.Fatal(err)
	}
}

// run starts the output, waits until Drain says it caught up, and stops it.
func run(t *testing.T, sp *spool.Spool, st *spool.Stream, cfg Config) string {
	t.Helper()
	var out syncBuffer
	o, err := New("test", sp, []*spool.Stream{st}, cfg, &out, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- o.Run(ctx) }()
	if err := o.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	return out.String()
}

func TestRawResumesFromCheckpoint(t *testing.T) {
	defer goleak.VerifyNone(t)
	dir := t.TempDir()
	sp, st := openSpool(t, dir)
	appendLines(t, st.Partition(0), "a1", "a2")
	appendLines(t, st.Partition(1), "b1")
	got := run(t, sp, st, Config{})
	if !sameLines(got, "a1\na2\nb1\n") {
		t.Fatalf("first run printed %q", got)
	}
	appendLines(t, st.Partition(0), "a3")
	sp.Close()

	sp, st = openSpool(t, dir)
	defer sp.Close()
	if got := run(t, sp, st, Config{}); got != "a3\n" {
		t.Fatalf("after restart printed %q, want only the new line", got)
	}
}

func TestStartAtNewest(t *testing.T) {
	sp, st := openSpool(t, t.TempDir())
	defer sp.Close()
	appendLines(t, st.Partition(0), "old")
	if got := run(t, sp, st, Config{StartAt: "newest"}); got != "" {
		t.Fatalf("newest printed %q", got)
	}
}

func TestNDJSON(t *testing.T) {
	sp, st := openSpool(t, t.TempDir())
	defer sp.Close()
	appendLines(t, st.Partition(0), "plain", "quote \" and \\ and \x01 and \xff", "ünïcode")
	got := run(t, sp, st, Config{Encoding: "ndjson"})
	lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("got %d lines: %q", len(lines), got)
	}
	want := []string{"plain", "quote \" and \\ and \x01 and \ufffd", "ünïcode"}
	for i, l := range lines {
		var rec struct {
			TS    time.Time         `json:"ts"`
			Attrs map[string]string `json:"attrs"`
			Body  string            `json:"body"`
		}
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatalf("line %d %q is not JSON: %v", i, l, err)
		}
		if rec.Body != want[i] || rec.Attrs["path"] != "/var/log/a.log" || rec.TS.UnixNano() != int64(1700000000e9+i) {
			t.Errorf("line %d = %+v", i, rec)
		}
	}
}

func TestManyBatchesInOrder(t *testing.T) {
	sp, st := openSpool(t, t.TempDir())
	defer sp.Close()
	var want strings.Builder
	for i := range 200 {
		l := fmt.Sprintf("line %d", i)
		appendLines(t, st.Partition(0), l)
		want.WriteString(l + "\n")
	}
	if got := run(t, sp, st, Config{ReadBytes: 300}); got != want.String() {
		t.Fatalf("order or count wrong: %d bytes, want %d", len(got), want.Len())
	}
}

func sameLines(a, b string) bool {
	split := func(s string) map[string]int {
		m := map[string]int{}
		for _, l := range strings.Split(s, "\n") {
			m[l]++
		}
		return m
	}
	x, y := split(a), split(b)
	if len(x) != len(y) {
		return false
	}
	for k, v := range x {
		if y[k] != v {
			return false
		}
	}
	return true
}

func BenchmarkEncodeRaw(b *testing.B)    { benchEncode(b, "raw") }
func BenchmarkEncodeNDJSON(b *testing.B) { benchEncode(b, "ndjson") }

func benchEncode(b *testing.B, enc string) {
	var bb batch.Builder
	bb.Reset(0, []batch.Attr{batch.StringAttr("path", "/var/log/app.log")})
	line := []byte(strings.Repeat("x", 199))
	for range 1000 {
		bb.Add(1, line)
	}
	data := bb.Bytes()
	o := &Output{cfg: Config{Encoding: enc}}
	var out []byte
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		out = o.encode(out[:0], data, 0, spool.Key{})
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*1000), "ns/line")
}

// A stored checkpoint past the end of a partition resumes at the end: lines
// appended later are printed, none skipped.
func TestCheckpointBeyondEndResumesAtTheEnd(t *testing.T) {
	dir := t.TempDir()
	sp, st := openSpool(t, dir)
	defer sp.Close()
	appendLines(t, st.Partition(0), "old")
	if err := os.WriteFile(filepath.Join(dir, "checkpoints", "test"), []byte(`{"version":1,"offsets":{"default/0":90002}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	var out syncBuffer
	o, err := New("test", sp, []*spool.Stream{st}, Config{}, &out, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- o.Run(ctx) }()
	if err := o.Drain(context.Background()); err != nil { // started, at the end
		t.Fatal(err)
	}
	appendLines(t, st.Partition(0), "new1", "new2")
	if err := o.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != "new1\nnew2\n" {
		t.Fatalf("printed %q, want the lines appended after the start", got)
	}
	ck, _ := sp.Checkpoints().Load("test")
	if ck[spool.Key{Stream: "default", Partition: 0}] != 3 {
		t.Fatalf("checkpoint %v", ck)
	}
}
