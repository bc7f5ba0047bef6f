package httpout

import (
	"bufio"
	"bytes"
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

	"github.com/capstan-agent/capstan/component/componenttest"
	"github.com/capstan-agent/capstan/component/conf"
	"github.com/capstan-agent/capstan/shipper/delivery"
	"github.com/capstan-agent/capstan/shipper/delivery/deliverytest"
	"github.com/capstan-agent/capstan/spool/batch"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// rig is deliverytest's: a spool with a stream "app" read by the output
// and a stream "dead" for its dead letters.
type rig struct {
	*deliverytest.Rig
	t *testing.T
}

func newRig(t *testing.T, partitions int) *rig {
	return &rig{Rig: deliverytest.NewRig(t, partitions), t: t}
}

func body(p, i int) string { return fmt.Sprintf("p%d-%d", p, i) }

// tenant of record i: "a", "b" or "c".
func tenant(i int) string { return string(rune('a' + i%3)) }

// add appends records from..from+n-1 of partition p in batches of per;
// each has the attribute tenant, and its source the namespace ns<p>.
func (r *rig) add(p, from, n, per int) {
	r.t.Helper()
	r.Add(p, from, n, per, deliverytest.Batches{
		Source: []batch.Attr{batch.StringAttr("k8s.namespace.name", fmt.Sprintf("ns%d", p))},
		Time:   func(i int) int64 { return int64(i) },
		Record: func(j int) (int64, string, []batch.Attr) {
			return int64(j), body(p, j), []batch.Attr{batch.StringAttr("tenant", tenant(j))}
		},
	})
}

func testConfig(url string, f func(c *Config)) *Config {
	c := &Config{}
	conf.ApplyDefaults(c)
	c.URL = url
	deliverytest.Configure(&c.Config)
	if f != nil {
		f(c)
	}
	return c
}

func (r *rig) run(c *Config) (e *delivery.Engine, stop func() error) {
	r.t.Helper()
	e, err := New(deliverytest.Settings(r.t, "http"), c)
	if err != nil {
		r.t.Fatal(err)
	}
	return e, r.Run(e, 20*time.Second)
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
