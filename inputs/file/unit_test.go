package file

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/capstan-agent/capstan/component/componenttest"
	"github.com/capstan-agent/capstan/spool"
)

func TestGlobMatch(t *testing.T) {
	for _, tc := range []struct {
		pattern, path string
		want          bool
	}{
		{"/var/log/*.log", "/var/log/syslog.log", true},
		{"/var/log/*.log", "/var/log/a/b.log", false},
		{"/var/log/**/*.log", "/var/log/b.log", true},
		{"/var/log/**/*.log", "/var/log/a/b/c.log", true},
		{"/var/log/**", "/var/log/a/b", true},
		{"/var/**/pods/*/x.log", "/var/lib/k/pods/p/x.log", true},
		{"/var/**/pods/*/x.log", "/var/lib/k/pods/p/q/x.log", false},
		{"/a/app.log*", "/a/app.log.1", true},
		{"/a/app.log*", "/a/app.log", true},
		{"/a/[ab].log", "/a/c.log", false},
	} {
		g, err := compileGlob(tc.pattern)
		if err != nil {
			t.Fatal(err)
		}
		if got := g.match(tc.path); got != tc.want {
			t.Errorf("%s ~ %s = %v, want %v", tc.pattern, tc.path, got, tc.want)
		}
	}
	if _, err := compileGlob("relative/*.log"); err == nil {
		t.Error("relative pattern accepted")
	}
	if _, err := compileGlob("/a/[.log"); err == nil {
		t.Error("bad pattern accepted")
	}
}

func TestGlobWalk(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{"a.log", "x/b.log", "x/y/c.log", "x/y/c.txt", "z/d.log"} {
		writeFile(t, filepath.Join(dir, p), "x\n")
	}
	os.Symlink(filepath.Join(dir, "x/b.log"), filepath.Join(dir, "link.log"))
	os.Symlink(dir, filepath.Join(dir, "x", "loop")) // not followed under **
	g, _ := compileGlob(dir + "/**/*.log")
	var files, dirs []string
	g.walk(func(d string) { dirs = append(dirs, d) }, func(f string) { files = append(files, strings.TrimPrefix(f, dir+"/")) })
	sort.Strings(files)
	if fmt.Sprint(files) != "[a.log link.log x/b.log x/y/c.log z/d.log]" {
		t.Fatalf("files %v", files)
	}
	if len(dirs) < 4 {
		t.Fatalf("dirs %v", dirs)
	}
}

func TestK8sAttrs(t *testing.T) {
	id := strings.Repeat("0f", 32)
	for _, tc := range []struct {
		path, resolved string
		want           string
	}{
		{"/var/log/pods/ns_pod-1_uid-1/app/0.log", "", "ns pod-1 uid-1 app"},
		{"/var/log/pods/ns_pod-1_uid-1/app/3.log.20240102-030405", "", "ns pod-1 uid-1 app"},
		{"/var/log/containers/pod-1_ns_app-" + id + ".log", "/var/log/pods/ns_pod-1_uid-1/app/0.log", "ns pod-1 uid-1 app " + id},
		{"/var/log/containers/pod-1_ns_app-" + id + ".log", "", "ns pod-1 app " + id},
		{"/var/log/syslog", "/var/log/syslog", ""},
		{"/var/log/pods/bad/app/0.log", "", ""},
	} {
		var vals []string
		for _, a := range k8sAttrs(tc.path, tc.resolved) {
			vals = append(vals, string(a.Value))
		}
		if got := strings.Join(vals, " "); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.path, got, tc.want)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	ok := Config{Name: "f", Include: []string{"/var/log/*.log"}}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		mut  func(*Config)
		want string
	}{
		{func(c *Config) { c.Include = nil }, "include"},
		{func(c *Config) { c.Include = []string{"x/*.log"} }, "include[0]"},
		{func(c *Config) { c.Exclude = []string{"/[x"} }, "exclude[0]"},
		{func(c *Config) { c.StartAt = "middle" }, "start_at"},
		{func(c *Config) { c.Format = "xml" }, "format"},
		{func(c *Config) { c.Multiline = &MultilineConfig{StartPattern: "("} }, "multiline.start_pattern"},
		{func(c *Config) { c.Multiline = &MultilineConfig{} }, "multiline.start_pattern"},
		{func(c *Config) { c.RotateWait = -1 }, "rotate_wait"},
		{func(c *Config) { c.MaxLineBytes = 1 << 30 }, "max_line_bytes"},
	} {
		c := ok
		c.Include = append([]string(nil), ok.Include...)
		tc.mut(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("want an error naming %s, got %v", tc.want, err)
		}
	}
	if d := Defaults(Config{MaxLineBytes: 4 << 20}); d.readBuffer() <= int(d.MaxLineBytes) {
		t.Errorf("read buffer %d not above max line %d", d.readBuffer(), d.MaxLineBytes)
	}
}

// blockingPartition is a spool partition that is full: Append waits.
type blockingPartition struct {
	calls   atomic.Int32
	release chan struct{}
}

func (p *blockingPartition) Append(ctx context.Context, b []byte) (spool.AppendResult, error) {
	p.calls.Add(1)
	select {
	case <-ctx.Done():
		return spool.AppendResult{}, ctx.Err()
	case <-p.release:
		return spool.AppendResult{Batches: 1}, nil
	}
}

func (p *blockingPartition) Sequence(uint64) (uint64, bool) { return 0, false }

func TestBackpressure(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.log")
	writeFile(t, path, strings.Repeat(strings.Repeat("x", 99)+"\n", 10000)) // 1 MB
	part := &blockingPartition{release: make(chan struct{})}
	// A short scan_interval: the unread-bytes sampler, all that runs while
	// an append blocks, then shows the input alive (below).
	in, err := New(Config{Name: "f", StartAt: "beginning", Include: []string{dir + "/*.log"}, MaxLineBytes: 1000, ReadBufferBytes: 64 << 10,
		ScanInterval: 20 * time.Millisecond, PollInterval: 5 * time.Millisecond},
		Target{Partitions: []Partition{part}, PositionsPath: filepath.Join(dir, "positions")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- in.Run(ctx) }()
	st := in.Stats()
	componenttest.WaitFor(t, time.Minute, "the first append", func() bool { return part.calls.Load() > 0 })
	// Were it to read on, it would while the file grows under it and the
	// sampler, stale past scan_interval, sees the growth three times.
	type progress struct {
		bytes uint64
		calls int32
	}
	var samples atomic.Uint64
	stopGrowing := make(chan struct{})
	grown := make(chan struct{})
	go func() {
		defer close(grown)
		f, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
		defer f.Close()
		for range 3 {
			u := st.UnreadBytes.Load()
			f.WriteString(strings.Repeat("y", 99) + "\n")
			for st.UnreadBytes.Load() < u+100 {
				select {
				case <-stopGrowing:
					return
				case <-time.After(time.Millisecond):
				}
			}
			samples.Add(1)
		}
	}()
	componenttest.Quiesce(t, componenttest.Quiet[progress]{
		What:     "the bytes read and appends made while the spool is full",
		Observe:  func() progress { return progress{st.Bytes.Load(), part.calls.Load()} },
		Settle:   10 * time.Millisecond,
		Progress: samples.Load,
		Rounds:   3,
		Deadline: 20 * time.Second,
	})
	close(stopGrowing)
	<-grown
	if n := st.Bytes.Load(); n > 64<<10 || part.calls.Load() != 1 {
		t.Fatalf("read %d bytes in %d appends while the spool was full", n, part.calls.Load())
	}
	close(part.release)
	componenttest.WaitFor(t, time.Minute, "the input to read the whole file once the spool has room", func() bool { return st.Bytes.Load() >= 1_000_000 })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestCloseInactiveAndReopen(t *testing.T) {
	h := newHarness(t, Config{Include: []string{"$LOGS/*.log"}, CloseInactive: 50 * time.Millisecond}, 1)
	writeFile(t, h.path("a.log"), numbered("a", 0, 10))
	h.start()
	waitPrefix(h, "a", 10)
	h.waitFor("the idle file closed", func([]rec) bool { return h.in.Stats().FilesOpen.Load() == 0 })
	appendFile(t, h.path("a.log"), numbered("a", 10, 20))
	recs := waitPrefix(h, "a", 20)
	checkExactlyOnce(t, recs, map[string]int{"a": 20})
}

func TestForgetAfter(t *testing.T) {
	h := newHarness(t, Config{Include: []string{"$LOGS/*.log"}, ForgetAfter: time.Nanosecond}, 1)
	writeFile(t, h.path("a.log"), numbered("a", 0, 10))
	writeFile(t, h.path("b.log"), numbered("b", 0, 10))
	h.start()
	h.waitCount(20)
	os.Remove(h.path("a.log"))
	h.waitFor("a.log released", func([]rec) bool { return h.in.Stats().Released.Load() == 1 })
	h.stop()
	p, err := loadPositions(h.sp.PositionsPath("files"))
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, e := range p.Files {
		paths = append(paths, filepath.Base(e.Path))
	}
	if fmt.Sprint(paths) != "[b.log]" {
		t.Fatalf("positions hold %v, want only b.log", paths)
	}
}

// flakyPartition fails its first appends, then keeps batches in memory.
type flakyPartition struct {
	fail    atomic.Int32
	mu      chan struct{}
	batches [][]byte
}

func (p *flakyPartition) Append(ctx context.Context, b []byte) (spool.AppendResult, error) {
	if p.fail.Add(-1) >= 0 {
		return spool.AppendResult{}, fmt.Errorf("disk on fire")
	}
	p.mu <- struct{}{}
	p.batches = append(p.batches, append([]byte(nil), b...))
	<-p.mu
	return spool.AppendResult{Batches: 1}, nil
}

func (p *flakyPartition) Sequence(uint64) (uint64, bool) { return 0, false }

func TestAppendErrorRetries(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "a.log"), numbered("a", 0, 5000))
	part := &flakyPartition{mu: make(chan struct{}, 1)}
	part.fail.Store(3)
	in, err := New(Config{Name: "f", StartAt: "beginning", Include: []string{dir + "/*.log"}, MaxLineBytes: 1000, ReadBufferBytes: 4096,
		PollInterval: 5 * time.Millisecond}, Target{Partitions: []Partition{part}, PositionsPath: filepath.Join(dir, "positions")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- in.Run(ctx) }()
	componenttest.WaitFor(t, time.Minute, "5000 records past the failing appends", func() bool { return in.Stats().Records.Load() >= 5000 })
	cancel()
	<-done
	if n := in.Stats().Errors.Load(); n != 3 {
		t.Fatalf("%d errors counted, want 3", n)
	}
	var recs []rec
	for _, b := range part.batches {
		recs = append(recs, decodeAll(t, b)...)
	}
	checkExactlyOnce(t, recs, map[string]int{"a": 5000})
}

// TestFairTurns: a busy file does not hold others up, also past
// max_open_files: every file gets a turn in the first rounds.
func TestFairTurns(t *testing.T) {
	h := newHarness(t, Config{Include: []string{"$LOGS/*.log"}, MaxLineBytes: 1000, ReadBufferBytes: 4096, MaxOpenFiles: 4}, 1)
	writeFile(t, h.path("big.log"), numbered("big", 0, 200000)) // ~2 MB: 500 turns
	for i := 0; i < 10; i++ {
		writeFile(t, h.path(fmt.Sprintf("small%d.log", i)), numbered(fmt.Sprintf("s%d", i), 0, 3))
	}
	h.start()
	recs := h.waitCount(200030)
	batch := 0
	var prod, seq uint64
	for _, r := range recs {
		if r.prod != prod || r.seq != seq {
			batch++
			prod, seq = r.prod, r.seq
		}
		if strings.HasPrefix(r.body, "s") && batch > 40 {
			t.Fatalf("%s spooled in batch %d: it waited behind the big file", r.body, batch)
		}
	}
	checkSet(t, recs, "big", 200000)
}
