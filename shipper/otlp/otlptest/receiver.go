package otlptest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/capstan-agent/capstan/shipper/internal/testproc"
)

// Options configure the receiver.
type Options struct {
	// NoHTTP and NoGRPC turn a protocol off (both are on by default).
	NoHTTP, NoGRPC bool
	// HTTPCompression lists the request encodings the HTTP server accepts
	// (nil: the receiver's default, which has gzip, zstd, zlib, deflate,
	// snappy and lz4). The gRPC server accepts gzip, zstd and snappy.
	HTTPCompression []string
	// MaxRequestBody bounds an HTTP request body in bytes (0: 20 MiB).
	MaxRequestBody int64
	// ReadyTimeout bounds the wait for the program to listen (default 60s).
	ReadyTimeout time.Duration
}

// Receiver is a running otlprecv helper: the Collector's OTLP receiver.
type Receiver struct {
	// HTTPAddr and GRPCAddr are the host:port the servers listen on ("" if off).
	HTTPAddr, GRPCAddr string

	t    testing.TB
	bin  string
	opts Options
	out  string // the JSON lines file

	mu       sync.Mutex
	proc     *testproc.Proc
	requests int
	records  int
	end      int64         // bytes of out the receiver vouched for
	changed  chan struct{} // closed and replaced at every notice
	bad      string        // a notice line that did not parse
}

// Start builds (once per test binary) and runs the receiver program, and
// returns when it listens. It is killed when the test ends.
func Start(t testing.TB, opts Options) *Receiver {
	t.Helper()
	if opts.ReadyTimeout == 0 {
		opts.ReadyTimeout = time.Minute
	}
	_, file, _, _ := runtime.Caller(0)
	src := filepath.Join(testproc.SourceDir(t, file), "..", "otlprecv")
	r := &Receiver{
		t:       t,
		bin:     testproc.Build(t, src, "."),
		opts:    opts,
		out:     filepath.Join(t.TempDir(), "received.jsonl"),
		changed: make(chan struct{}),
	}
	r.start("127.0.0.1:0", "127.0.0.1:0")
	return r
}

func (r *Receiver) start(httpAt, grpcAt string) {
	r.t.Helper()
	if r.opts.NoHTTP {
		httpAt = "off"
	}
	if r.opts.NoGRPC {
		grpcAt = "off"
	}
	args := []string{"-out", r.out, "-http", httpAt, "-grpc", grpcAt,
		"-request-base", fmt.Sprint(r.requests)}
	if r.opts.HTTPCompression != nil {
		args = append(args, "-http-compression", strings.Join(r.opts.HTTPCompression, ","))
	}
	if r.opts.MaxRequestBody > 0 {
		args = append(args, "-max-request-body", fmt.Sprint(r.opts.MaxRequestBody))
	}
	p := testproc.Start(r.t, testproc.Config{
		Name:         "otlp receiver",
		Path:         r.bin,
		Args:         args,
		ReadyTimeout: r.opts.ReadyTimeout,
		OnLine:       r.notice,
	})
	var h, g string
	if _, err := fmt.Sscanf(p.Ready(), "ready http=%s grpc=%s", &h, &g); err != nil {
		r.t.Fatalf("otlp receiver: ready line %q: %v", p.Ready(), err)
	}
	r.mu.Lock()
	r.proc = p
	r.HTTPAddr, r.GRPCAddr = strings.TrimPrefix(h, "off"), strings.TrimPrefix(g, "off")
	r.mu.Unlock()
}

// notice takes a "request N records M end B" line.
func (r *Receiver) notice(line string) {
	var n, m int
	var end int64
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, err := fmt.Sscanf(line, "request %d records %d end %d", &n, &m, &end); err != nil {
		if r.bad == "" {
			r.bad = line
		}
	} else {
		r.requests, r.records, r.end = n, r.records+m, end
	}
	close(r.changed)
	r.changed = make(chan struct{})
}

// HTTPURL returns the OTLP/HTTP logs endpoint, http://ADDR/v1/logs.
func (r *Receiver) HTTPURL() string { return "http://" + r.HTTPAddr + "/v1/logs" }

// Count returns how many records the receiver has accepted so far.
func (r *Receiver) Count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.records
}

// Wait waits until the receiver has accepted at least n records in all and
// returns them all; it fails the test if that takes longer than timeout or
// the receiver exits.
func (r *Receiver) Wait(n int, timeout time.Duration) []Record {
	r.t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		r.mu.Lock()
		got, changed, proc, bad := r.records, r.changed, r.proc, r.bad
		r.mu.Unlock()
		if bad != "" {
			r.t.Fatalf("otlp receiver printed %q, not a request notice", bad)
		}
		if got >= n {
			return r.Records()
		}
		select {
		case <-changed:
		case <-proc.Done():
			r.t.Fatalf("otlp receiver exited while waiting for %d records (has %d); stderr:\n%s", n, got, proc.Stderr())
		case <-deadline.C:
			r.t.Fatalf("otlp receiver has %d records after %v, waited for %d", got, timeout, n)
		}
	}
}

// Records returns every record accepted so far, in the order received.
func (r *Receiver) Records() []Record {
	r.t.Helper()
	recs, _ := r.read()
	return recs
}

// Requests returns every request accepted so far.
func (r *Receiver) Requests() []Request {
	r.t.Helper()
	_, reqs := r.read()
	return reqs
}

// Request is one export request the receiver accepted.
type Request struct {
	Request int                 `json:"request"`
	Records int                 `json:"records"`
	Headers map[string][]string `json:"headers"` // lower-case names
}

func (r *Receiver) read() ([]Record, []Request) {
	r.t.Helper()
	r.mu.Lock()
	end := r.end
	r.mu.Unlock()
	data, err := os.ReadFile(r.out)
	if err != nil && !os.IsNotExist(err) {
		r.t.Fatalf("read receiver output: %v", err)
	}
	if int64(len(data)) < end {
		r.t.Fatalf("receiver output %s has %d bytes, the receiver announced %d", r.out, len(data), end)
	}
	recs, reqs, err := ParseLines(data[:end])
	if err != nil {
		r.t.Fatalf("receiver output %s: %v", r.out, err)
	}
	return recs, reqs
}

// ParseLines decodes the receiver's JSON lines.
func ParseLines(data []byte) ([]Record, []Request, error) {
	var recs []Record
	var reqs []Request
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), 64<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Bytes()
		var kind struct {
			Kind string `json:"kind"`
		}
		if err := json.Unmarshal(line, &kind); err != nil {
			return nil, nil, fmt.Errorf("line %d: %w", n, err)
		}
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.DisallowUnknownFields()
		var err error
		switch kind.Kind {
		case "request":
			var q struct {
				Kind string `json:"kind"`
				Request
			}
			err = dec.Decode(&q)
			reqs = append(reqs, q.Request)
		case "record":
			var rec struct {
				Kind string `json:"kind"`
				Record
			}
			err = dec.Decode(&rec)
			recs = append(recs, rec.Record)
		default:
			err = fmt.Errorf("unknown kind %q", kind.Kind)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("line %d: %w", n, err)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, nil, fmt.Errorf("read lines: %w", err)
	}
	return recs, reqs, nil
}

// Kill stops the receiver with SIGKILL (a destination that went away). What
// it accepted stays readable.
func (r *Receiver) Kill() {
	r.mu.Lock()
	p := r.proc
	r.mu.Unlock()
	p.Kill()
}

// Restart starts the receiver again on the same addresses after Kill.
// Request numbers go on from where the last run stopped.
func (r *Receiver) Restart() {
	r.t.Helper()
	r.Kill()
	r.start(r.HTTPAddr, r.GRPCAddr)
}

// PID returns the receiver's process id.
func (r *Receiver) PID() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.proc.PID()
}
