package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

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
