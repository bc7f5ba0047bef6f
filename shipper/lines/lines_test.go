package lines

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap"

	"github.com/capstan-agent/capstan/component"
	"github.com/capstan-agent/capstan/component/componenttest"
	"github.com/capstan-agent/capstan/component/conf"
	"github.com/capstan-agent/capstan/shipper/delivery"
	"github.com/capstan-agent/capstan/spool"
	"github.com/capstan-agent/capstan/spool/batch"
	"github.com/capstan-agent/capstan/spool/spooltest"
)

var update = flag.Bool("update", false, "rewrite the golden files")

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

// encodeAll encodes the records of b from offset from with enc.
func encodeAll(t testing.TB, enc encoder, b []byte, from uint64, req *delivery.Request) {
	t.Helper()
	err := delivery.ForEachRecord(b, from, spool.Key{Stream: "app"}, func(rec *delivery.Record) error {
		return enc.Encode(req, rec)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestEncode pins every encoding and framing in testdata/encode/*.golden
// (go test -run TestEncode -update rewrites them).
func TestEncode(t *testing.T) {
	src := []batch.Attr{batch.StringAttr("host", "h1")}
	two := append(mkBatch(10, src, "hello", "quote\" back\\ nl\n tab\t \x01", "bad\xffutf8 é"), mkBatch(13, nil, "last")...)
	for _, tc := range []struct {
		name string
		enc  encoder
		from uint64
	}{
		{"raw", encoder{format: Raw}, 0},
		{"raw-from-inside-a-batch", encoder{format: Raw}, 12},
		{"raw-past-first-batch", encoder{format: Raw}, 13},
		{"ndjson", encoder{format: NDJSON}, 0},
		{"raw-octet-counting", encoder{format: Raw, octet: true}, 0},
		{"ndjson-octet-counting", encoder{format: NDJSON, octet: true}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var req delivery.Request
			encodeAll(t, tc.enc, two, tc.from, &req)
			golden := filepath.Join("testdata", "encode", tc.name+".golden")
			if *update {
				os.MkdirAll(filepath.Dir(golden), 0o755)
				os.WriteFile(golden, req.Body, 0o644)
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(req.Body, want) {
				t.Fatalf("got\n%q\nwant\n%q", req.Body, want)
			}
		})
	}
}

// Octet-counted frames say the length of what follows, in bytes.
func TestOctetCountingFrames(t *testing.T) {
	for _, f := range []Format{Raw, NDJSON} {
		var req delivery.Request
		encodeAll(t, encoder{format: f, octet: true}, mkBatch(0, nil, "a", "é\nmulti-line", strings.Repeat("z", 300)), 0, &req)
		b := req.Body
		for n := 0; len(b) > 0; n++ {
			sp := bytes.IndexByte(b, ' ')
			var size int
			if _, err := fmt.Sscanf(string(b[:sp]), "%d", &size); err != nil || sp+1+size > len(b) {
				t.Fatalf("%s frame %d: bad length in %q", f, n, b)
			}
			b = b[sp+1+size:]
		}
	}
}

func TestEncodeAllocatesNothingPerRecord(t *testing.T) {
	recs := make([]string, 1000)
	for i := range recs {
		recs[i] = strings.Repeat("x", 200)
	}
	b := mkBatch(0, []batch.Attr{batch.StringAttr("host", "h")}, recs...)
	// What walking the batch costs (per call, not per record) is not the
	// encoder's.
	walk := testing.AllocsPerRun(20, func() {
		delivery.ForEachRecord(b, 0, spool.Key{}, func(*delivery.Record) error { return nil })
	})
	for _, enc := range []encoder{{format: Raw}, {format: NDJSON}, {format: NDJSON, octet: true}} {
		var req delivery.Request
		encodeAll(t, enc, b, 0, &req) // grow the buffer once
		allocs := testing.AllocsPerRun(20, func() {
			req.Body = req.Body[:0]
			encodeAll(t, enc, b, 0, &req)
		})
		if allocs > walk {
			t.Errorf("%+v: %.1f allocations per batch of 1000 records", enc, allocs-walk)
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
	return component.Settings{ID: component.ID{Kind: component.KindOutput, Type: "test", Name: name}, Logger: zap.NewNop(), StartAt: "oldest"}
}

func host(s *spool.Spool, name string, streams ...*spool.Stream) *componenttest.Host {
	h := componenttest.NewHost(s, name)
	h.StreamsRead = streams
	return h
}

// defaults is a Config of type C with its defaults, changed by f.
func defaults[C any, P interface {
	*C
	component.Config
}](f func(P)) P {
	c := P(new(C))
	conf.ApplyDefaults(c)
	if f != nil {
		f(c)
	}
	return c
}

// run runs o until cond holds (waiting at most 10s), then stops it.
func run(t *testing.T, o *delivery.Engine, h *componenttest.Host, what string, cond func() bool) {
	t.Helper()
	r := componenttest.RunOutput(t, o, h)
	waitFor(t, what, cond)
	if err := r.Stop(t); err != nil {
		t.Fatal(err)
	}
}

// waitFor waits up to 10s for cond, failing with what it waited for.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	componenttest.WaitFor(t, 10*time.Second, what, cond)
}

func TestStdoutResumesWithoutDuplicates(t *testing.T) {
	s := spooltest.Open(t, t.TempDir(), spool.Options{}, map[string]int{"app": 1})
	st := spooltest.Stream(t, s, "app")
	spooltest.AppendNumbered(t, st.Partition(0), 0, "a", 0, 10, 4)
	var out syncBuffer
	o, err := NewStdout(settings("so"), defaults[StdoutConfig](nil), &out)
	if err != nil {
		t.Fatal(err)
	}
	run(t, o, host(s, "so", st), "10 lines", func() bool { return strings.Count(out.String(), "\n") == 10 })
	spooltest.AppendNumbered(t, st.Partition(0), 0, "a", 10, 2, 2)
	o, err = NewStdout(settings("so"), defaults[StdoutConfig](nil), &out)
	if err != nil {
		t.Fatal(err)
	}
	run(t, o, host(s, "so", st), "12 lines", func() bool { return strings.Count(out.String(), "\n") >= 12 })
	var want strings.Builder
	for i := 0; i < 12; i++ {
		fmt.Fprintf(&want, "a-%d\n", i)
	}
	if out.String() != want.String() {
		t.Fatalf("got %q", out.String())
	}
}

// A standard output nobody reads any more (EPIPE) makes the output
// degraded, not the process die; it stops cleanly.
func TestStdoutClosed(t *testing.T) {
	s := spooltest.Open(t, t.TempDir(), spool.Options{}, map[string]int{"app": 1})
	st := spooltest.Stream(t, s, "app")
	spooltest.AppendNumbered(t, st.Partition(0), 0, "a", 0, 10, 10)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	defer w.Close()
	o, err := NewStdout(settings("so"), defaults[StdoutConfig](nil), w)
	if err != nil {
		t.Fatal(err)
	}
	h := host(s, "so", st)
	running := componenttest.RunOutput(t, o, h)
	waitFor(t, "the output degraded", func() bool { s, _ := h.State(); return s == component.Degraded })
	if _, reason := h.State(); !strings.Contains(reason, "EPIPE") {
		t.Errorf("reason %q does not say EPIPE", reason)
	}
	if err := running.Stop(t); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Checkpoints().Load("so"); got[spool.Key{Stream: "app"}] != 0 {
		t.Errorf("committed %v with nothing delivered", got)
	}
	if n := o.Stats().Failures("closed"); n == 0 {
		t.Error("failures not counted")
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		cfg  component.Config
		want string
	}{
		{defaults(func(c *TCPConfig) { c.Address = "nope" }), "address: \"nope\" is not host:port"},
		{defaults(func(c *TCPConfig) { c.Address = "127.0.0.1:99999" }), "address: \"127.0.0.1:99999\": port"},
		{defaults(func(c *TCPConfig) { c.Address = "a:1"; c.Framing = "lines" }), "framing: \"lines\" is not one of newline, octet_counting"},
		{defaults(func(c *TCPConfig) { c.Address = "a:1"; c.Concurrency = 0 }), "concurrency: must be between 1 and 64"},
		{defaults(func(c *FileConfig) { c.Path = "/tmp/x"; c.Encoding = "xml" }), "encoding: \"xml\" is not one of raw, ndjson"},
		{defaults[FileConfig](nil), "path: missing"},
		{defaults(func(c *FileConfig) { c.Path = "/tmp/x"; c.DeadLetter.Path = "/tmp/x" }), "dead_letter.path: is the output's own path"},
		{defaults(func(c *StdoutConfig) { c.Encoding = "json" }), "encoding: \"json\" is not one of raw, ndjson"},
		{defaults(func(c *StdoutConfig) { c.Batch.MaxBytes = 0 }), "batch.max_bytes: must be between 1 and"},
		{defaults(func(c *StdoutConfig) { c.Retry.Max = time.Millisecond }), "retry.max: must be at least retry.initial (100ms)"},
		{defaults(func(c *StdoutConfig) { c.DeadLetter.Stream, c.DeadLetter.Path = "d", "/x" }), "dead_letter: give stream or path, not both"},
		{defaults(func(c *StdoutConfig) { c.DeadLetter.Path = "rel.ndjson" }), "dead_letter.path: \"rel.ndjson\" is not an absolute path"},
	} {
		err := tc.cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%T: got %v, want %q", tc.cfg, err, tc.want)
		}
	}
}

// lineReader reads numbered lines "<tag>-<n>" and checks their order per
// tag.
type lineReader struct {
	next map[string]int
}

func (lr *lineReader) read(t *testing.T, r *bufio.Reader, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		l, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("after %d lines: %v", i, err)
		}
		tag, num, _ := strings.Cut(strings.TrimSuffix(l, "\n"), "-")
		var k int
		fmt.Sscanf(num, "%d", &k)
		if k != lr.next[tag] {
			t.Fatalf("line %q, want %s-%d", l, tag, lr.next[tag])
		}
		lr.next[tag]++
	}
}

// listen listens on a free port of 127.0.0.1.
func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// The peer is down at first: the output retries until it is up, then every
// line arrives, in order per partition.
func TestTCPWaitsForPeer(t *testing.T) {
	s := spooltest.Open(t, t.TempDir(), spool.Options{}, map[string]int{"app": 2})
	st := spooltest.Stream(t, s, "app")
	spooltest.AppendNumbered(t, st.Partition(0), 0, "a", 0, 100, 10)
	spooltest.AppendNumbered(t, st.Partition(1), 0, "b", 0, 100, 10)
	l := listen(t)
	addr := l.Addr().String()
	l.Close()
	o, err := NewTCP(settings("t"), defaults(func(c *TCPConfig) {
		c.Address, c.Retry.Initial, c.Retry.Max = addr, time.Millisecond, 10*time.Millisecond
	}))
	if err != nil {
		t.Fatal(err)
	}
	h := host(s, "t", st)
	running := componenttest.RunOutput(t, o, h)
	waitFor(t, "two failed connects", func() bool { return o.Stats().Failures("connect") >= 2 })
	if st, _ := h.State(); st != component.Degraded {
		t.Errorf("state %s while the peer is down", st)
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
	lr := &lineReader{next: map[string]int{}}
	lr.read(t, bufio.NewReader(c), 200)
	waitFor(t, "200 lines acknowledged", func() bool { return o.Stats().Records.Load() == 200 })
	if err := running.Stop(t); err != nil {
		t.Fatal(err)
	}
	if st, _ := h.State(); st != component.Stopped && st != component.Running {
		t.Errorf("state %s after delivering", st)
	}
	got, _ := s.Checkpoints().Load("t")
	if got[spool.Key{Stream: "app", Partition: 0}] != 100 || got[spool.Key{Stream: "app", Partition: 1}] != 100 {
		t.Fatalf("checkpoint %v", got)
	}
}

// The peer resets the connection in the middle: what its kernel did not
// acknowledge is written again on the next connection, from exactly the
// checkpoint (what it acknowledged counts as delivered: plain TCP has no
// application acknowledgement).
func TestTCPResendsWhatWasNotAcknowledged(t *testing.T) {
	s := spooltest.Open(t, t.TempDir(), spool.Options{}, map[string]int{"app": 1})
	st := spooltest.Stream(t, s, "app")
	spooltest.AppendNumbered(t, st.Partition(0), 0, "a", 0, 20000, 100)
	ln := listen(t)
	addr := ln.Addr().String()
	o, err := NewTCP(settings("t"), defaults(func(c *TCPConfig) {
		c.Address, c.Retry.Initial, c.Retry.Max = addr, time.Millisecond, 10*time.Millisecond
		c.Batch.MaxRecords = 500
	}))
	if err != nil {
		t.Fatal(err)
	}
	running := componenttest.RunOutput(t, o, host(s, "t", st))
	// First connection: read a little, stop reading, and reset it with the
	// listener gone, so that the output cannot reconnect at once.
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	lr := &lineReader{next: map[string]int{}}
	lr.read(t, bufio.NewReader(c), 1000)
	ln.Close()
	c.(*net.TCPConn).SetLinger(0)
	c.Close()
	waitFor(t, "a failed reconnect", func() bool { return o.Stats().Failures("connect") > 0 })
	got, _ := s.Checkpoints().Load("t")
	committed := int(got[spool.Key{Stream: "app"}])
	// What the output saw acknowledged before the reset is committed; what
	// it did not (it may not have looked yet: a reset purges the send queue)
	// goes again.
	if committed >= 20000 {
		t.Fatalf("checkpoint %d after the reset, with 1000 lines read", committed)
	}
	// Second connection: from the checkpoint to the end, in order.
	ln2, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer ln2.Close()
	c2, err := ln2.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	lr = &lineReader{next: map[string]int{"a": committed}}
	lr.read(t, bufio.NewReader(c2), 20000-committed)
	waitFor(t, "everything committed", func() bool { got, _ := s.Checkpoints().Load("t"); return got[spool.Key{Stream: "app"}] == 20000 })
	if err := running.Stop(t); err != nil {
		t.Fatal(err)
	}
	if o.Stats().Failures("connection") == 0 {
		t.Error("the reset was not counted")
	}
}
