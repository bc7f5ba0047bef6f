package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/klauspost/compress/s2"

	"github.com/capstan-agent/capstan/shipper/loki/lokifake"
)

// BenchmarkLokiProcess measures capstan as a real process: a file of
// 200-byte lines → file input → spool → loki output → the Loki fake in the
// test process with its storage off (it decodes every push, checks every
// entry as Loki does and keeps a hash per entry for duplicates), figures as
// BenchmarkOutputProcess reports them. CAPSTAN_BENCH_LINES sets the lines
// (default 2,000,000).
//
//	go test ./cmd/capstan -run '^$' -bench LokiProcess -benchtime 1x
func BenchmarkLokiProcess(b *testing.B) {
	lines := 2_000_000
	if v := os.Getenv("CAPSTAN_BENCH_LINES"); v != "" {
		lines, _ = strconv.Atoi(v)
	}
	dir := b.TempDir()
	logFile := filepath.Join(dir, "app.log")
	writeBenchLines(b, logFile, lines)
	// The same lines in four files, each a stream of its own (a filename
	// label): four requests in flight rather than one.
	os.MkdirAll(filepath.Join(dir, "four"), 0o755)
	for i := range 4 {
		writeBenchLinesFrom(b, filepath.Join(dir, "four", fmt.Sprintf("f%d.log", i)), i*lines/4, lines/4)
	}
	four := filepath.Join(dir, "four", "*.log")
	b.Run("protobuf-snappy-counting-receiver", func(b *testing.B) {
		for range b.N {
			lokiCountingBench(b, dir, logFile, lines)
		}
	})
	for _, tc := range []struct{ name, include, output string }{
		{"protobuf-snappy", logFile, `{type: loki, endpoint: "http://%s"}`},
		{"protobuf-snappy-4MiB", logFile, `{type: loki, endpoint: "http://%s", batch: {max_bytes: 4MiB, max_records: 20000}}`},
		{"protobuf-snappy-4-streams", four, `{type: loki, endpoint: "http://%s", labels: {job: input, filename: log.file.path}}`},
		{"json", logFile, `{type: loki, endpoint: "http://%s", encoding: json}`},
	} {
		b.Run(tc.name, func(b *testing.B) {
			for range b.N {
				fake, err := lokifake.New(lokifake.Options{StorageOff: true})
				if err != nil {
					b.Fatal(err)
				}
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					b.Fatal(err)
				}
				done := make(chan struct{})
				var once sync.Once
				stored := func() int64 { return fake.Stats().Stored }
				srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					fake.ServeHTTP(w, r)
					if stored() >= int64(lines) {
						once.Do(func() { close(done) })
					}
				})}
				go srv.Serve(ln)
				benchAgent(b, dir, tc.include, lines, fmt.Sprintf(tc.output, ln.Addr().String()), done, stored)
				if st := fake.Stats(); len(st.Refused) != 0 || st.Duplicates != 0 {
					b.Errorf("the fake refused %v, dropped %d duplicates", st.Refused, st.Duplicates)
				}
				srv.Close()
				fake.Close()
			}
		})
	}
}

// lokiCountingBench runs the default loki output into a receiver as cheap
// as BenchmarkOutputProcess's: it decodes the snappy block into a reused
// buffer and counts the entries of the PushRequest's streams, answering
// 204 — what the output costs and reaches when the receiver is not the
// bound.
func lokiCountingBench(b *testing.B, dir, logFile string, lines int) {
	var count atomic.Int64
	done := make(chan struct{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	type bufs struct{ wire, plain []byte }
	pool := sync.Pool{New: func() any { return &bufs{} }}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		bp := pool.Get().(*bufs)
		defer pool.Put(bp)
		if int64(cap(bp.wire)) < r.ContentLength {
			bp.wire = make([]byte, r.ContentLength)
		}
		wire := bp.wire[:max(r.ContentLength, 0)]
		if _, err := io.ReadFull(r.Body, wire); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		n, err := s2.DecodedLen(wire)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		if cap(bp.plain) < n {
			bp.plain = make([]byte, n)
		}
		plain, err := s2.Decode(bp.plain[:n], wire)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		var entries int64
		each(plain, 1, func(stream []byte) { each(stream, 2, func([]byte) { entries++ }) })
		w.WriteHeader(http.StatusNoContent)
		if count.Add(entries) == int64(lines) {
			close(done)
		}
	})}
	go srv.Serve(ln)
	defer srv.Close()
	benchAgent(b, dir, logFile, lines, fmt.Sprintf(`{type: loki, endpoint: "http://%s"}`, ln.Addr().String()), done, count.Load)
}
