package file

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// checkSet fails unless every prefix-i for i < n is among the records
// exactly once and nothing else with that prefix is.
func checkSet(t testing.TB, recs []rec, prefix string, n int) {
	t.Helper()
	seen := make([]int, n)
	for _, r := range recs {
		var i int
		if !strings.HasPrefix(r.body, prefix+"-") {
			continue
		}
		if _, err := fmt.Sscan(r.body[len(prefix)+1:], &i); err != nil || i < 0 || i >= n {
			t.Fatalf("unexpected record %q", r.body)
		}
		seen[i]++
	}
	lost, dup := 0, 0
	for i, c := range seen {
		if c == 0 {
			lost++
			if lost < 5 {
				t.Errorf("%s-%d lost", prefix, i)
			}
		}
		if c > 1 {
			dup++
			if dup < 5 {
				t.Errorf("%s-%d read %d times", prefix, i, c)
			}
		}
	}
	if lost+dup > 0 {
		t.Fatalf("%d lost, %d duplicated of %d", lost, dup, n)
	}
}

func countPrefix(recs []rec, prefix string) int {
	n := 0
	for _, r := range recs {
		if strings.HasPrefix(r.body, prefix+"-") {
			n++
		}
	}
	return n
}

func waitPrefix(h *harness, prefix string, n int) []rec {
	h.t.Helper()
	return h.waitFor(fmt.Sprintf("%d %s records", n, prefix), func(r []rec) bool { return countPrefix(r, prefix) >= n })
}

func TestRotateRenameCreate(t *testing.T) {
	for _, include := range []string{"$LOGS/app.log*", "$LOGS/app.log"} {
		t.Run(filepath.Base(include), func(t *testing.T) {
			h := newHarness(t, Config{Include: []string{include}}, 2)
			path := h.path("app.log")
			w, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
			if err != nil {
				t.Fatal(err)
			}
			h.start()
			io.WriteString(w, numbered("n", 0, 1000))
			waitPrefix(h, "n", 1) // the file is tracked
			if err := os.Rename(path, path+".1"); err != nil {
				t.Fatal(err)
			}
			io.WriteString(w, numbered("n", 1000, 2000)) // the writer has not reopened yet
			w.Close()
			writeFile(t, path, numbered("n", 2000, 3000))
			recs := waitPrefix(h, "n", 3000)
			checkSet(t, recs, "n", 3000)
		})
	}
}

func TestCopyTruncate(t *testing.T) {
	h := newHarness(t, Config{Include: []string{"$LOGS/app.log*"}}, 2)
	path := h.path("app.log")
	w, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	h.start()
	io.WriteString(w, numbered("n", 0, 10))
	waitPrefix(h, "n", 10)
	for round := 1; round <= 5; round++ {
		io.WriteString(w, numbered("n", round*1000-990, round*1000)) // not all read yet
		src, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		dst, err := os.Create(fmt.Sprintf("%s.%d", path, round))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(dst, src)
		src.Close()
		dst.Close()
		if err := os.Truncate(path, 0); err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, numbered("n", round*1000, round*1000+10))
	}
	recs := waitPrefix(h, "n", 5010)
	checkSet(t, recs, "n", 5010)
	if h.in.Stats().Truncations.Load() == 0 {
		t.Fatal("no truncation seen")
	}
}

func TestTruncateInPlace(t *testing.T) {
	h := newHarness(t, Config{Include: []string{"$LOGS/*.log"}}, 1)
	path := h.path("a.log")
	writeFile(t, path, numbered("a", 0, 100))
	h.start()
	waitPrefix(h, "a", 100)
	writeFile(t, path, numbered("b", 0, 10)) // O_TRUNC: same inode, shorter
	recs := waitPrefix(h, "b", 10)
	appendFile(t, path, numbered("b", 10, 20))
	recs = waitPrefix(h, "b", 20)
	checkSet(t, recs, "a", 100)
	checkSet(t, recs, "b", 20)
}

func TestDeletedWhileOpen(t *testing.T) {
	h := newHarness(t, Config{Include: []string{"$LOGS/*.log"}}, 1)
	path := h.path("a.log")
	w, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	h.start()
	io.WriteString(w, numbered("a", 0, 100))
	waitPrefix(h, "a", 1)
	os.Remove(path)
	io.WriteString(w, numbered("a", 100, 200)+"a-200") // last line without newline
	w.Close()
	recs := waitPrefix(h, "a", 201)
	checkSet(t, recs, "a", 201)
	h.waitFor("file released", func([]rec) bool { return h.in.Stats().Released.Load() == 1 })
}

func TestInodeReuse(t *testing.T) {
	h := newHarness(t, Config{Include: []string{"$LOGS/*.log"}}, 1)
	path := h.path("a.log")
	writeFile(t, path, numbered("a", 0, 100))
	h.start()
	waitPrefix(h, "a", 100)
	st1, _ := statPath(path)
	os.Remove(path)
	// A new file under the same name; tmpfs and ext4 usually hand out the
	// inode just freed, and its birth time tells the two apart.
	writeFile(t, path, numbered("b", 0, 50))
	st2, _ := statPath(path)
	t.Logf("inode reused: %v", st1.id.Ino == st2.id.Ino && st1.id.Dev == st2.id.Dev)
	recs := waitPrefix(h, "b", 50)
	checkSet(t, recs, "a", 100)
	checkSet(t, recs, "b", 50)
}

func TestInodeReuseWhileStopped(t *testing.T) {
	h := newHarness(t, Config{Include: []string{"$LOGS/*.log"}}, 1)
	path := h.path("a.log")
	writeFile(t, path, numbered("a", 0, 100))
	h.start()
	waitPrefix(h, "a", 100)
	h.stop()
	os.Remove(path)
	writeFile(t, path, numbered("b", 0, 50))
	h.start()
	recs := waitPrefix(h, "b", 50)
	checkSet(t, recs, "a", 100)
	checkSet(t, recs, "b", 50)
}

func TestSymlinkRetarget(t *testing.T) {
	h := newHarness(t, Config{Include: []string{"$LOGS/containers/*.log"}}, 2)
	pods := h.path("pods/ns_pod_uid/c")
	writeFile(t, filepath.Join(pods, "0.log"), numbered("a", 0, 10))
	link := h.path("containers/app.log")
	os.MkdirAll(filepath.Dir(link), 0o755)
	if err := os.Symlink(filepath.Join(pods, "0.log"), link); err != nil {
		t.Fatal(err)
	}
	h.start()
	waitPrefix(h, "a", 10)
	appendFile(t, filepath.Join(pods, "0.log"), numbered("a", 10, 20)) // written through the target
	waitPrefix(h, "a", 20)
	writeFile(t, filepath.Join(pods, "1.log"), numbered("b", 0, 10))
	tmp := link + ".tmp"
	os.Symlink(filepath.Join(pods, "1.log"), tmp)
	if err := os.Rename(tmp, link); err != nil {
		t.Fatal(err)
	}
	recs := waitPrefix(h, "b", 10)
	checkSet(t, recs, "a", 20)
	checkSet(t, recs, "b", 10)
}

func TestManySmallFiles(t *testing.T) {
	h := newHarness(t, Config{Include: []string{"$LOGS/**/*.log"}, MaxOpenFiles: 64}, 4)
	for i := 0; i < 1000; i++ {
		writeFile(t, h.path(fmt.Sprintf("d%d/f%d.log", i%10, i)), numbered(fmt.Sprintf("f%d", i), 0, 3))
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	h.start()
	checkFiles(t, h.waitCount(3000), 1000, 3)
	runtime.GC()
	runtime.ReadMemStats(&after)
	// Per-file state is small: the read buffer is shared. The bound is
	// generous (the spool's and the test's own memory count too).
	perFile := (int64(after.HeapInuse) - int64(before.HeapInuse)) / 1000
	t.Logf("heap in use per tracked file: %d bytes", perFile)
	if perFile > 16<<10 {
		t.Errorf("%d bytes of heap per tracked file", perFile)
	}
	if n := h.in.Stats().FilesOpen.Load(); n > 64 {
		t.Fatalf("%d files open, limit 64", n)
	}
	// A second round of writes to every file reaches the spool too.
	for i := 0; i < 1000; i++ {
		appendFile(t, h.path(fmt.Sprintf("d%d/f%d.log", i%10, i)), numbered(fmt.Sprintf("f%d", i), 3, 4))
	}
	checkFiles(t, h.waitCount(4000), 1000, 4)
}

// checkFiles checks records "f<file>-<line>": every line of every file once.
func checkFiles(t *testing.T, recs []rec, files, lines int) {
	t.Helper()
	seen := make([]int, files*lines)
	for _, r := range recs {
		var f, l int
		if _, err := fmt.Sscanf(r.body, "f%d-%d", &f, &l); err != nil || f >= files || l >= lines {
			t.Fatalf("unexpected record %q", r.body)
		}
		seen[f*lines+l]++
	}
	for i, c := range seen {
		if c != 1 {
			t.Fatalf("f%d-%d spooled %d times", i/lines, i%lines, c)
		}
	}
}

func TestLongLines(t *testing.T) {
	h := newHarness(t, Config{Include: []string{"$LOGS/*.log"}, MaxLineBytes: 100, ReadBufferBytes: 256}, 1)
	long := strings.Repeat("x", 1000)
	writeFile(t, h.path("a.log"), "short\n"+long+"\n"+strings.Repeat("y", 150)+"\nend\n")
	h.start()
	recs := h.waitCount(4)
	want := []string{"short", long[:100], strings.Repeat("y", 100), "end"}
	if fmt.Sprint(bodies(recs)) != fmt.Sprint(want) {
		t.Fatalf("got %q", bodies(recs))
	}
	if n := h.in.Stats().Truncated.Load(); n != 2 {
		t.Fatalf("truncated %d, want 2", n)
	}
}

// While the input is stopped, the file is copied and truncated
// (copytruncate) and written again past its old size: after the restart the
// copy continues the old position and the file is read anew, each line once.
func TestCopyTruncateWhileStopped(t *testing.T) {
	for _, copyIt := range []bool{true, false} {
		t.Run(fmt.Sprintf("copy=%v", copyIt), func(t *testing.T) {
			h := newHarness(t, Config{Include: []string{"$LOGS/app*"}}, 2)
			path := h.path("app.log")
			writeFile(t, path, numbered("a", 0, 100))
			h.start()
			waitPrefix(h, "a", 100)
			h.stop()
			appendFile(t, path, numbered("a", 100, 150)) // not read before the copy
			if copyIt {                                  // named to sort before app.log: the walk meets it first
				b, _ := os.ReadFile(path)
				writeFile(t, h.path("app-1.log"), string(b))
			}
			f, _ := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
			f.WriteString(numbered("b", 0, 300)) // same inode, longer than before
			f.Close()
			h.start()
			recs := waitPrefix(h, "b", 300)
			want := 100
			if copyIt {
				recs = waitPrefix(h, "a", 150)
				want = 150
			}
			recs = h.settled("the records of the truncated file", 2*h.cfg.PollInterval)
			checkSet(t, recs, "a", want)
			checkSet(t, recs, "b", 300)
		})
	}
}

// Killed just after the first batch of a generation that a truncation
// started, then copied and truncated again while stopped, the file written
// at least as far as that batch: the generations' first bursts are equally
// long, so only the file's first bytes tell them apart. After the restart
// the copy continues the cut-short generation and the file is read anew,
// each line once.
func TestKillAfterFirstBatchOfGeneration(t *testing.T) {
	for _, tc := range []struct {
		name   string
		copyIt bool // the second truncation is a copytruncate
		bursts int  // bursts of the third generation written while stopped
	}{
		{"copy, as long as the batch", true, 1},
		{"copy, longer", true, 3},
		{"in place, as long as the batch", false, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// No positions tick: the positions file on disk once a batch is
			// in the spool is what a kill right after that append leaves.
			h := newHarness(t, Config{Include: []string{"$LOGS/app.log*"}, PositionsInterval: time.Hour}, 2)
			path := h.path("app.log")
			const burst = 500
			writeFile(t, path, numbered("a", 0, burst))
			h.start()
			waitPrefix(h, "a", burst)
			copyTruncate(t, path, path+".1", numbered("b", 0, burst))
			waitPrefix(h, "b", burst)
			killed, err := os.ReadFile(h.sp.PositionsPath("files"))
			if err != nil {
				t.Fatal(err)
			}
			h.stop() // writes the positions, which the kill did not
			writeFile(t, h.sp.PositionsPath("files"), string(killed))
			dst := ""
			if tc.copyIt {
				dst = path + ".2"
			}
			copyTruncate(t, path, dst, numbered("c", 0, burst*tc.bursts))
			h.sp.Close()
			h.open(2)
			h.start()
			recs := h.settled("the records after the restart", 2*h.cfg.PollInterval)
			checkSet(t, recs, "a", burst)
			checkSet(t, recs, "b", burst)
			checkSet(t, recs, "c", burst*tc.bursts)
		})
	}
}

// copyTruncate does what logrotate's copytruncate does to path: copies it
// to dst (unless dst is ""), truncates it in place and writes s to it.
func copyTruncate(t *testing.T, path, dst, s string) {
	t.Helper()
	if dst != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, dst, string(b))
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
}
