package httpout

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/capstan-agent/capstan/component"
	"github.com/capstan-agent/capstan/component/componenttest"
	"github.com/capstan-agent/capstan/component/conf"
	"github.com/capstan-agent/capstan/shipper/delivery"
	"github.com/capstan-agent/capstan/spool"
	"github.com/capstan-agent/capstan/spool/batch"
	"github.com/capstan-agent/capstan/spool/spooltest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type rig struct {
	t    *testing.T
	sp   *spool.Spool
	st   *spool.Stream
	host *componenttest.Host
}

func newRig(t *testing.T, partitions int) *rig {
	sp := spooltest.Open(t, t.TempDir(), spool.Options{}, map[string]int{"app": partitions, "dead": 1})
	h := componenttest.NewHost(sp, "out")
	st := spooltest.Stream(t, sp, "app")
	h.StreamsRead = []*spool.Stream{st}
	h.DeadLetter = spooltest.Stream(t, sp, "dead")
	return &rig{t: t, sp: sp, st: st, host: h}
}

func body(p, i int) string { return fmt.Sprintf("p%d-%d", p, i) }

// tenant of record i: "a", "b" or "c".
func tenant(i int) string { return string(rune('a' + i%3)) }

// add appends records from..from+n-1 of partition p in batches of per;
// each has the attribute tenant, and its source the namespace ns<p>.
func (r *rig) add(p, from, n, per int) {
	r.t.Helper()
	src := []batch.Attr{batch.StringAttr("k8s.namespace.name", fmt.Sprintf("ns%d", p))}
	var b batch.Builder
	for i := from; i < from+n; i += per {
		b.ResetV2(uint64(1000+p), int64(i), src)
		for j := i; j < min(i+per, from+n); j++ {
			b.AddRecord(int64(j), batch.KindString, []byte(body(p, j)), []batch.Attr{batch.StringAttr("tenant", tenant(j))})
		}
		b.SetSequence(uint64(min(i+per, from+n)))
		if _, err := r.st.Partition(p).Append(context.Background(), b.Bytes()); err != nil {
			r.t.Fatal(err)
		}
	}
}

func testConfig(url string, f func(c *Config)) *Config {
	c := &Config{}
	conf.ApplyDefaults(c)
	c.URL = url
	c.Retry.Initial, c.Retry.Max = 5*time.Millisecond, 50*time.Millisecond
	c.DrainTimeout = 500 * time.Millisecond
	c.DeadLetter.Stream = "dead"
	if f != nil {
		f(c)
	}
	return c
}

func (r *rig) run(c *Config) (e *delivery.Engine, stop func() error) {
	r.t.Helper()
	set := component.Settings{ID: component.ID{Kind: component.KindOutput, Type: "http", Name: "out"},
		Logger: zaptest.NewLogger(r.t, zaptest.Level(zap.WarnLevel)), StartAt: "oldest"}
	e, err := New(set, c)
	if err != nil {
		r.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx, r.host) }()
	select {
	case <-r.host.Readied():
	case err := <-done:
		cancel()
		r.t.Fatalf("output returned before it was ready: %v", err)
	case <-time.After(20 * time.Second):
		cancel()
		r.t.Fatal("output not ready after 20s")
	}
	stopped, serr := false, error(nil)
	stop = func() error {
		if !stopped {
			stopped = true
			cancel()
			select {
			case serr = <-done:
			case <-time.After(30 * time.Second):
				r.t.Fatal("output did not stop within 30s")
			}
		}
		return serr
	}
	r.t.Cleanup(func() { stop() })
	return e, stop
}

func (r *rig) committed(p int) uint64 {
	r.t.Helper()
	got, err := r.sp.Checkpoints().Load("out")
	if err != nil {
		r.t.Fatal(err)
	}
	return got[spool.Key{Stream: "app", Partition: p}]
}

func (r *rig) deadLetters() map[string][2]string {
	r.t.Helper()
	out := map[string][2]string{}
	rd := r.host.DeadLetter.Partition(0).NewReader(0)
	buf := make([]byte, 4<<20)
	for {
		rg, err := rd.Next(4 << 20)
		if err != nil {
			return out
		}
		b := buf[:rg.Len]
		rg.File.ReadAt(b, rg.Pos)
		for len(b) > 0 {
			bt, size, err := batch.Decode(b)
			if err != nil {
				r.t.Fatal(err)
			}
			it := bt.Records()
			var rec batch.Record
			for it.Next(&rec) {
				var v [2]string
				at := rec.Attrs()
				for a, ok := at.NextAttr(); ok; a, ok = at.NextAttr() {
					switch string(a.Key) {
					case delivery.AttrDeadLetterReason:
						v[0] = string(a.Value)
					case delivery.AttrDeadLetterMessage:
						v[1] = string(a.Value)
					}
				}
				out[string(rec.Body)] = v
			}
			b = b[size:]
		}
	}
}

// waitFor waits up to 30s for cond, failing with what it waited for.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	componenttest.WaitFor(t, 30*time.Second, what, cond)
}

// got is one request a test server took.
type got struct {
	method, path string
	header       http.Header
	bodies       []string // the records' bodies, decoded from the encoding
	status       int      // what it answered
}

// server is a destination that answers by a script and decodes what it
// takes.
type server struct {
	t        *testing.T
	srv      *httptest.Server
	encoding string
	mu       sync.Mutex
	reqs     []got
	answer   func(n int, g got) (status int, header http.Header) // n from 1; status 0 resets the connection
	hang     chan struct{}
}

func newServer(t *testing.T, encoding string, answer func(n int, g got) (int, http.Header)) *server {
	s := &server{t: t, encoding: encoding, answer: answer, hang: make(chan struct{})}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(func() {
		close(s.hang)
		s.srv.CloseClientConnections()
		s.srv.Close()
	})
	return s
}

func (s *server) serve(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	g := got{method: r.Method, path: r.URL.EscapedPath(), header: r.Header.Clone()}
	plain, err := decompress(r.Header.Get("Content-Encoding"), raw)
	if err != nil {
		s.t.Errorf("request body: %v", err)
	}
	g.bodies = decodeBodies(s.t, s.encoding, plain)
	s.mu.Lock()
	n := len(s.reqs) + 1
	s.reqs = append(s.reqs, g)
	s.mu.Unlock()
	status, h := 200, http.Header(nil)
	if s.answer != nil {
		status, h = s.answer(n, g)
	}
	s.mu.Lock()
	s.reqs[n-1].status = status
	s.mu.Unlock()
	switch status {
	case 0: // reset
		conn, _, _ := w.(http.Hijacker).Hijack()
		conn.(*net.TCPConn).SetLinger(0)
		conn.Close()
		return
	case -1: // hang
		select {
		case <-s.hang:
		case <-r.Context().Done():
		}
		return
	}
	for k, v := range h {
		w.Header()[k] = v
	}
	w.WriteHeader(status)
	fmt.Fprintf(w, "answer %d", status)
}

func (s *server) requests() []got {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]got(nil), s.reqs...)
}

// taken counts the bodies of requests answered 2xx.
func (s *server) taken() map[string]int {
	out := map[string]int{}
	for _, g := range s.requests() {
		if g.status >= 200 && g.status < 300 {
			for _, b := range g.bodies {
				out[b]++
			}
		}
	}
	return out
}

func decompress(enc string, b []byte) ([]byte, error) {
	switch enc {
	case "":
		return b, nil
	case "gzip":
		r, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			return nil, err
		}
		return io.ReadAll(r)
	case "zstd":
		d, _ := zstd.NewReader(nil)
		defer d.Close()
		return d.DecodeAll(b, nil)
	}
	return nil, fmt.Errorf("content encoding %q", enc)
}

// record is capstan's NDJSON record.
type record struct {
	TS    string            `json:"ts"`
	Attrs map[string]string `json:"attrs"`
	Body  string            `json:"body"`
}

func decodeBodies(t *testing.T, encoding string, b []byte) []string {
	var out []string
	switch encoding {
	case Raw:
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			out = append(out, sc.Text())
		}
	case JSONArray:
		var recs []record
		if err := json.Unmarshal(b, &recs); err != nil {
			t.Errorf("not a JSON array of records: %v: %.200s", err, b)
		}
		for _, r := range recs {
			out = append(out, r.Body)
		}
	default:
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			var r record
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
				t.Errorf("not an NDJSON record: %v: %s", err, sc.Text())
			}
			out = append(out, r.Body)
		}
	}
	return out
}
