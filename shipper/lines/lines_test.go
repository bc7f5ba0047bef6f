package lines

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/capstan-agent/capstan/component"
	"github.com/capstan-agent/capstan/component/componenttest"
	"github.com/capstan-agent/capstan/spool"
	"github.com/capstan-agent/capstan/spool/batch"
	"github.com/capstan-agent/capstan/spool/spooltest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func mkBatch(base uint64, attrs []batch.Attr, recs ...string) []byte {
	var b batch.Builder
	b.Reset(0, attrs)
	for i, r := range recs {
		if i == 1 {
			b.AddWithAttrs(int64(1700000000123456789+i), []byte(r), []batch.Attr{batch.StringAttr("level", "warn")})
			continue
		}
		b.Add(int64(1700000000123456789+i), []byte(r))
	}
	out := bytes.Clone(b.Bytes())
	batch.SetBaseOffset(out, base)
	return out
}

func TestEncode(t *testing.T) {
	src := []batch.Attr{batch.StringAttr("host", "h1")}
	two := append(mkBatch(10, src, "hello", "quote\" back\\ nl\n tab\t \x01", "bad\xffutf8 é"), mkBatch(13, nil, "last")...)
	for _, tc := range []struct {
		name   string
		format Format
		from   uint64
		want   string
	}{
		{"raw", Raw, 0, "hello\nquote\" back\\ nl\n tab\t \x01\nbad\xffutf8 é\nlast\n"},
		{"raw from inside a batch", Raw, 12, "bad\xffutf8 é\nlast\n"},
		{"raw past first batch", Raw, 13, "last\n"},
		{"ndjson", NDJSON, 0, `{"ts":"2023-11-14T22:13:20.123456789Z","attrs":{"host":"h1"},"body":"hello"}
{"ts":"2023-11-14T22:13:20.12345679Z","attrs":{"host":"h1","level":"warn"},"body":"quote\" back\\ nl\n tab\t \u0001"}
{"ts":"2023-11-14T22:13:20.123456791Z","attrs":{"host":"h1"},"body":"bad\ufffdutf8 é"}
{"ts":"2023-11-14T22:13:20.123456789Z","body":"last"}
`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := encoder{format: tc.format}
			if _, err := e.appendBatches(two, tc.from); err != nil {
				t.Fatal(err)
			}
			if string(e.buf) != tc.want {
				t.Fatalf("got\n%s\nwant\n%s", e.buf, tc.want)
			}
			if tc.format == NDJSON {
				for _, l := range strings.Split(strings.TrimSpace(string(e.buf)), "\n") {
					var v map[string]any
					if err := json.Unmarshal([]byte(l), &v); err != nil {
						t.Fatalf("invalid JSON %s: %v", l, err)
					}
				}
			}
		})
	}
}

func TestEncodeAllocatesNothingPerRecord(t *testing.T) {
	recs := make([]string, 1000)
	for i := range recs {
		recs[i] = strings.Repeat("x", 200)
	}
	b := mkBatch(0, []batch.Attr{batch.StringAttr("host", "h")}, recs...)
	for _, f := range []Format{Raw, NDJSON} {
		e := encoder{format: f}
		e.appendBatches(b, 0) // grow the buffer once
		allocs := testing.AllocsPerRun(20, func() {
			e.buf = e.buf[:0]
			e.appendBatches(b, 0)
		})
		if allocs != 0 {
			t.Errorf("%s: %.1f allocations per batch of 1000 records", f, allocs)
		}
	}
}

// syncBuffer is a bytes.Buffer safe for the output's writer and the test.
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

func settings(name string) component.Settings {
	return component.Settings{ID: component.ID{Kind: component.KindOutput, Type: "test", Name: name}, StartAt: "oldest"}
}

func host(s *spool.Spool, name string, streams ...*spool.Stream) *componenttest.Host {
	h := componenttest.NewHost(s, name)
	h.StreamsRead = streams
	return h
}

func mustOutput(t testing.TB, o component.Output, err error) *Output {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	return o.(*Output)
}

// run runs o until cond holds, then stops it.
func run(t *testing.T, o *Output, h *componenttest.Host, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- o.Run(ctx, h) }()
	for !cond() {
		time.Sleep(2 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestStdoutResumesWithoutDuplicates(t *testing.T) {
	s := spooltest.Open(t, t.TempDir(), spool.Options{}, map[string]int{"app": 1})
	st := spooltest.Stream(t, s, "app")
	spooltest.AppendNumbered(t, st.Partition(0), 0, "a", 0, 10, 4)
	var out syncBuffer
	o, err := NewStdout(settings("so"), &StdoutConfig{Encoding: Raw}, &out)
	if err != nil {
		t.Fatal(err)
	}
	run(t, o, host(s, "so", st), func() bool { return strings.Count(out.String(), "\n") == 10 })
	spooltest.AppendNumbered(t, st.Partition(0), 0, "a", 10, 2, 2)
	o, err = NewStdout(settings("so"), &StdoutConfig{Encoding: Raw}, &out)
	if err != nil {
		t.Fatal(err)
	}
	run(t, o, host(s, "so", st), func() bool { return strings.Count(out.String(), "\n") >= 12 })
	var want strings.Builder
	for i := 0; i < 12; i++ {
		fmt.Fprintf(&want, "a-%d\n", i)
	}
	if out.String() != want.String() {
		t.Fatalf("got %q", out.String())
	}
}

func TestFileRotation(t *testing.T) {
	s := spooltest.Open(t, t.TempDir(), spool.Options{}, map[string]int{"app": 1})
	st := spooltest.Stream(t, s, "app")
	spooltest.AppendNumbered(t, st.Partition(0), 0, "rec", 0, 300, 10)
	path := filepath.Join(t.TempDir(), "out.log")
	c, err := NewFile(settings("f"), &FileConfig{Encoding: Raw, Path: path, MaxBytes: 500, MaxFiles: 3})
	o := mustOutput(t, c, err)
	run(t, o, host(s, "f", st), func() bool { return o.Stats().Lines.Load() == 300 })
	var all []string
	for _, name := range []string{path + ".3", path + ".2", path + ".1", path} {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) > 500 {
			t.Errorf("%s holds %d bytes, max 500", name, len(b))
		}
		all = append(all, strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")...)
	}
	if _, err := os.Stat(path + ".4"); !os.IsNotExist(err) {
		t.Errorf("kept more than 3 rotated files: %v", err)
	}
	// The newest lines are kept, in order, the oldest rotated away.
	if all[len(all)-1] != "rec-299" {
		t.Fatalf("last line %q", all[len(all)-1])
	}
	for i := 1; i < len(all); i++ {
		var a, b int
		fmt.Sscanf(all[i-1], "rec-%d", &a)
		fmt.Sscanf(all[i], "rec-%d", &b)
		if b != a+1 {
			t.Fatalf("line %q follows %q", all[i], all[i-1])
		}
	}
}

// The peer is down at first: the output retries until it is up, then every
// line arrives, in order per partition.
func TestTCPWaitsForPeer(t *testing.T) {
	s := spooltest.Open(t, t.TempDir(), spool.Options{}, map[string]int{"app": 2})
	st := spooltest.Stream(t, s, "app")
	spooltest.AppendNumbered(t, st.Partition(0), 0, "a", 0, 100, 10)
	spooltest.AppendNumbered(t, st.Partition(1), 0, "b", 0, 100, 10)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	tc, err := NewTCP(settings("t"), &TCPConfig{Encoding: Raw, Address: addr, ConnectTimeout: time.Second})
	o := mustOutput(t, tc, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- o.Run(ctx, host(s, "t", st)) }()
	for o.Stats().Errors.Load() < 2 {
		time.Sleep(time.Millisecond)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	next := map[string]int{}
	sc := bufio.NewScanner(c)
	for n := 0; n < 200 && sc.Scan(); n++ {
		var p string
		var i int
		fmt.Sscanf(strings.Replace(sc.Text(), "-", " ", 1), "%s %d", &p, &i)
		if i != next[p] {
			t.Fatalf("line %q, want %s-%d", sc.Text(), p, next[p])
		}
		next[p]++
	}
	for o.Stats().Lines.Load() < 200 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if next["a"] != 100 || next["b"] != 100 {
		t.Fatalf("received %v", next)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		cfg  interface{ Validate() error }
		want string
	}{
		{&TCPConfig{Encoding: Raw, Address: "nope", ConnectTimeout: time.Second}, "address: \"nope\" is not host:port"},
		{&TCPConfig{Encoding: Raw, Address: "127.0.0.1:99999", ConnectTimeout: time.Second}, "address: \"127.0.0.1:99999\": port"},
		{&FileConfig{Encoding: "xml", Path: "/tmp/x", MaxBytes: 1, MaxFiles: 1}, "encoding: \"xml\" is not one of raw, ndjson"},
		{&FileConfig{Encoding: Raw, MaxBytes: 1, MaxFiles: 1}, "path: missing"},
		{&StdoutConfig{Encoding: "json"}, "encoding: \"json\" is not one of raw, ndjson"},
	} {
		err := tc.cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%T: got %v, want %q", tc.cfg, err, tc.want)
		}
	}
}
