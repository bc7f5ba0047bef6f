package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/capstan-agent/capstan/shipper/elasticsearch/esfake"
)

// BenchmarkOutputProcess measures capstan as a real process: a file of
// 200-byte lines → file input → spool → otlp (OTLP/HTTP protobuf), http
// (NDJSON) or elasticsearch output → a receiver in the test process that
// decodes just enough to count the records and answers 200 (for
// elasticsearch, the fake with storage off, which parses every item). It reports lines/s from the
// agent's start to the last line received, the agent's CPU (user+system)
// per line, allocations per line (the agent's go_memstats_mallocs_total)
// and its peak RSS, and the receiver's CPU per line (it shares the
// machine's two cores with the agent). CAPSTAN_BENCH_LINES sets the lines (default 2,000,000);
// CAPSTAN_BENCH_PROFILE=DIR writes a 2 s CPU profile of each agent there.
//
//	go test ./cmd/capstan -run '^$' -bench OutputProcess -benchtime 1x
func BenchmarkOutputProcess(b *testing.B) {
	lines := 2_000_000
	if v := os.Getenv("CAPSTAN_BENCH_LINES"); v != "" {
		lines, _ = strconv.Atoi(v)
	}
	dir := b.TempDir()
	logFile := filepath.Join(dir, "app.log")
	writeBenchLines(b, logFile, lines)
	for _, tc := range []struct{ name, output string }{
		{"otlp-protobuf-none", `{type: otlp, endpoint: "http://%s", compression: none}`},
		{"otlp-protobuf-gzip", `{type: otlp, endpoint: "http://%s"}`},
		{"otlp-protobuf-zstd", `{type: otlp, endpoint: "http://%s", compression: zstd}`},
		{"http-ndjson-none", `{type: http, url: "http://%s/ingest"}`},
		{"http-ndjson-gzip", `{type: http, url: "http://%s/ingest", compression: gzip}`},
		{"elasticsearch-none", `{type: elasticsearch, endpoints: ["http://%s"], compression: none}`},
		{"elasticsearch-gzip", `{type: elasticsearch, endpoints: ["http://%s"]}`},
		// The same into a receiver as cheap as the others' (it counts the
		// lines and answers every item 201 without reading the documents):
		// what the agent does when the destination is not the bottleneck.
		{"elasticsearch-none-cheap", `{type: elasticsearch, endpoints: ["http://%s"], compression: none}`},
	} {
		b.Run(tc.name, func(b *testing.B) {
			for range b.N {
				runOutputBench(b, dir, logFile, lines, tc.output, !strings.HasSuffix(tc.name, "-cheap"))
			}
		})
	}
}

func writeBenchLines(b *testing.B, path string, n int) { writeBenchLinesFrom(b, path, 0, n) }

// writeBenchLinesFrom writes lines from..from+n-1 (files of other lines
// have other heads: the file input tells files apart by theirs).
func writeBenchLinesFrom(b *testing.B, path string, from, n int) {
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	pad := strings.Repeat("x", 200)
	for i := from; i < from+n; i++ {
		line := fmt.Sprintf("2026-05-01T10:00:00.000Z level=info line=%09d msg=", i)
		w.WriteString(line)
		w.WriteString(pad[:199-len(line)])
		w.WriteByte('\n')
	}
	w.Flush()
	f.Close()
}

func runOutputBench(b *testing.B, dir, logFile string, lines int, output string, fake bool) {
	var count atomic.Int64
	done := make(chan struct{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	otlp := strings.Contains(output, "type: otlp")
	bulk := strings.Contains(output, "type: elasticsearch")
	var es *esfake.Fake
	if bulk && fake {
		// The fake with storage off: it parses every request and item and
		// answers as a node does, keeping only the ids' hashes.
		if es, err = esfake.New(esfake.Options{StorageOff: true}); err != nil {
			b.Fatal(err)
		}
		defer es.Close()
	}
	var once sync.Once
	bufs := sync.Pool{New: func() any { return new([]byte) }}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if es != nil {
			es.ServeHTTP(w, r)
			if es.Stats().Created == int64(lines) {
				once.Do(func() { close(done) })
			}
			return
		}
		// A receiver as cheap as it can be, so that the agent has the
		// machine: one reused buffer per request in flight.
		bp := bufs.Get().(*[]byte)
		defer bufs.Put(bp)
		if int64(cap(*bp)) < r.ContentLength {
			*bp = make([]byte, r.ContentLength)
		}
		body := (*bp)[:max(r.ContentLength, 0)]
		if _, err := io.ReadFull(r.Body, body); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		body, err := benchDecompress(r.Header.Get("Content-Encoding"), body)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		n := int64(bytes.Count(body, []byte{'\n'}))
		if otlp {
			n = countLogRecords(body)
			w.Header().Set("Content-Type", "application/x-protobuf")
		}
		if bulk {
			n /= 2 // an action and a document per record
			a := append((*bp)[:0], `{"errors":false,"items":[`...)
			for i := range n {
				if i > 0 {
					a = append(a, ',')
				}
				a = append(a, `{"create":{"status":201}}`...)
			}
			a = append(a, "]}"...)
			w.Header().Set("Content-Type", "application/json")
			w.Write(a)
			*bp = a
		}
		if count.Add(n) == int64(lines) {
			close(done)
		}
	})}
	go srv.Serve(ln)
	defer srv.Close()

	benchAgent(b, dir, logFile, lines, fmt.Sprintf(output, ln.Addr().String()), done, count.Load)
}

// benchAgent runs an agent reading logFile into output (its YAML) until done
// is closed, and reports its figures (progress counts what arrived, for a
// timeout's message).
func benchAgent(b *testing.B, dir, logFile string, lines int, output string, done <-chan struct{}, progress func() int64) {
	data := filepath.Join(dir, fmt.Sprintf("data-%d", time.Now().UnixNano()))
	cfg := filepath.Join(dir, "bench.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`data_dir: %s
log: {format: json}
http: {address: "127.0.0.1:0", pprof: true}
spool: {fsync: never}
inputs:
  app: {type: file, include: [%q], start_at: beginning}
outputs:
  out: %s
`, data, logFile, output)), 0o644)
	b.ResetTimer()
	start, self := time.Now(), selfCPU()
	cmd := exec.Command(binary, "run", "-c", cfg)
	cmd.Dir, cmd.Env = dir, env()
	var logs lockedBuffer
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	if pdir := os.Getenv("CAPSTAN_BENCH_PROFILE"); pdir != "" {
		go profileAgent(&logs, filepath.Join(pdir, b.Name()+".pprof"))
	}
	select {
	case <-done:
	case <-time.After(10 * time.Minute):
		cmd.Process.Kill()
		cmd.Wait()
		b.Fatalf("%d of %d lines in 10 minutes:\n%s", progress(), lines, logs.String())
	}
	elapsed, recvCPU := time.Since(start), selfCPU()-self
	b.StopTimer()
	mallocs := scrapeMallocs(logs.String())
	hwm := vmHWM(cmd.Process.Pid)
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	b.ReportMetric(float64(lines)/elapsed.Seconds()/1e6, "Mlines/s")
	b.ReportMetric(float64(cpu.Microseconds())/float64(lines), "cpu-µs/line")
	b.ReportMetric(mallocs/float64(lines), "allocs/line")
	b.ReportMetric(float64(recvCPU.Microseconds())/float64(lines), "receiver-cpu-µs/line")
	b.ReportMetric(float64(ru.Maxrss)/1024, "peak-RSS-MiB")
	b.ReportMetric(hwm, "agent-VmHWM-MiB")
	os.RemoveAll(data)
}

// vmHWM is the peak RSS of process pid so far, in MiB, from
// /proc/PID/status. The rusage of a child's exit (peak-RSS-MiB) carries
// the peak of the test process it was forked from too (Linux keeps
// maxrss across exec): with a receiver that grows in the test process,
// only this figure is the agent's own.
func vmHWM(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}

// selfCPU is the test process's CPU so far: the receiver's, while an agent
// runs.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// scrapeMallocs reads go_memstats_mallocs_total from the /metrics of the
// agent whose log is logs.
func scrapeMallocs(logs string) float64 {
	i := strings.Index(logs, `"address":"`)
	if i < 0 {
		return 0
	}
	rest := logs[i+len(`"address":"`):]
	resp, err := http.Get("http://" + rest[:strings.IndexByte(rest, '"')] + "/metrics")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "go_memstats_mallocs_total "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	return 0
}

// profileAgent writes a 2 s CPU profile of the agent once it serves.
func profileAgent(logs *lockedBuffer, path string) {
	for range 100 {
		l := logs.String()
		if i := strings.Index(l, `"address":"`); i >= 0 {
			rest := l[i+len(`"address":"`):]
			resp, err := http.Get("http://" + rest[:strings.IndexByte(rest, '"')] + "/debug/pprof/profile?seconds=2")
			if err != nil {
				return
			}
			defer resp.Body.Close()
			os.MkdirAll(filepath.Dir(path), 0o755)
			f, err := os.Create(path)
			if err == nil {
				io.Copy(f, resp.Body)
				f.Close()
			}
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// lockedBuffer collects a process's log.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// zstdDecoder is shared by the receiver's requests (DecodeAll may run
// concurrently); making one per request would cost more than the decoding.
var zstdDecoder, _ = zstd.NewReader(nil, zstd.WithDecoderConcurrency(2))

var gzipReaders sync.Pool

func benchDecompress(enc string, b []byte) ([]byte, error) {
	switch enc {
	case "gzip":
		r, _ := gzipReaders.Get().(*gzip.Reader)
		var err error
		if r == nil {
			r, err = gzip.NewReader(bytes.NewReader(b))
		} else {
			err = r.Reset(bytes.NewReader(b))
		}
		if err != nil {
			return nil, err
		}
		defer gzipReaders.Put(r)
		out := bytes.NewBuffer(make([]byte, 0, 8*len(b)))
		_, err = io.Copy(out, r)
		return out.Bytes(), err
	case "zstd":
		return zstdDecoder.DecodeAll(b, nil)
	}
	return b, nil
}

// countLogRecords counts the LogRecords of an ExportLogsServiceRequest
// (resource_logs 1 → scope_logs 2 → log_records 2) without decoding them.
func countLogRecords(b []byte) int64 {
	var n int64
	each(b, 1, func(rl []byte) {
		each(rl, 2, func(sl []byte) {
			each(sl, 2, func([]byte) { n++ })
		})
	})
	return n
}

func each(b []byte, field protowire.Number, fn func([]byte)) {
	for len(b) > 0 {
		num, typ, k := protowire.ConsumeTag(b)
		if k < 0 {
			return
		}
		b = b[k:]
		k = protowire.ConsumeFieldValue(num, typ, b)
		if k < 0 {
			return
		}
		if num == field && typ == protowire.BytesType {
			v, _ := protowire.ConsumeBytes(b)
			fn(v)
		}
		b = b[k:]
	}
}
