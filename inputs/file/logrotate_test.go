package file

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// logrotatePath finds logrotate(8), which .ci/run installs; without it the
// test fails, saying what to install.
func logrotatePath(t *testing.T) string {
	for _, p := range []string{"logrotate", "/usr/sbin/logrotate", "/sbin/logrotate"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	t.Fatal("logrotate not installed: install the Debian package logrotate (.ci/run does)")
	return ""
}

func TestLogrotate(t *testing.T) {
	bin := logrotatePath(t)
	for _, mode := range []string{"copytruncate", "create"} {
		t.Run(mode, func(t *testing.T) {
			h := newHarness(t, Config{Include: []string{"$LOGS/app.log*"}}, 2)
			path := h.path("app.log")
			conf := filepath.Join(t.TempDir(), "logrotate.conf")
			state := filepath.Join(t.TempDir(), "state")
			writeFile(t, conf, fmt.Sprintf("%s {\n  %s\n  rotate 1000\n  missingok\n  nocompress\n}\n", path, mode))
			os.Chmod(conf, 0o644)
			w, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
			if err != nil {
				t.Fatal(err)
			}
			h.start()

			var written atomic.Int64
			var mu sync.Mutex // create mode: the writer reopens after a rotation, as on a signal
			stop := make(chan struct{})
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				i := 0
				for {
					select {
					case <-stop:
						mu.Lock()
						w.Close()
						mu.Unlock()
						written.Store(int64(i))
						return
					default:
					}
					mu.Lock()
					io.WriteString(w, numbered("n", i, i+50))
					mu.Unlock()
					i += 50
					time.Sleep(500 * time.Microsecond)
				}
			}()
			rotations := 0
			for r := 0; r < 10; r++ {
				time.Sleep(150 * time.Millisecond)
				out, err := exec.Command(bin, "-f", "-s", state, conf).CombinedOutput()
				if err != nil {
					t.Fatalf("logrotate: %v: %s", err, out)
				}
				rotations++
				if mode == "create" {
					mu.Lock()
					w.Close()
					w, err = os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
					mu.Unlock()
					if err != nil {
						t.Fatal(err)
					}
				}
			}
			close(stop)
			wg.Wait()
			n := int(written.Load())

			// What the files hold: copytruncate loses lines written between
			// its copy and its truncate, before anyone can read them.
			inFiles := make([]bool, n)
			matches, _ := filepath.Glob(path + "*")
			for _, m := range matches {
				f, _ := os.Open(m)
				sc := bufio.NewScanner(f)
				for sc.Scan() {
					var i int
					if _, err := fmt.Sscanf(sc.Text(), "n-%d", &i); err == nil && i < n {
						inFiles[i] = true
					}
				}
				f.Close()
			}
			want := 0
			for _, ok := range inFiles {
				if ok {
					want++
				}
			}
			recs := h.waitFor("every line still in a file", func(recs []rec) bool {
				got := make([]bool, n)
				for _, r := range recs {
					var i int
					if _, err := fmt.Sscanf(r.body, "n-%d", &i); err == nil && i < n {
						got[i] = true
					}
				}
				for i := range inFiles {
					if inFiles[i] && !got[i] {
						return false
					}
				}
				return true
			})
			recs = h.settled("the records after the last rotation", 2*h.cfg.RotateWait) // let anything extra arrive
			seen := make([]int, n)
			for _, r := range recs {
				var i int
				if _, err := fmt.Sscanf(r.body, "n-%d", &i); err != nil || i >= n || !strings.HasPrefix(r.body, "n-") {
					t.Fatalf("unexpected record %q", r.body)
				}
				seen[i]++
			}
			rescued := 0
			for i, c := range seen {
				if c > 1 {
					for _, r := range recs {
						if r.body == fmt.Sprintf("n-%d", i) {
							t.Logf("%s from %s producer %x seq %d", r.body, r.attrs["log.file.path"], r.prod, r.seq)
						}
					}
					t.Fatalf("n-%d spooled %d times", i, c)
				}
				if inFiles[i] && c == 0 {
					t.Fatalf("n-%d lost", i)
				}
				if !inFiles[i] && c == 1 {
					rescued++
				}
				if mode == "create" && c != 1 {
					t.Fatalf("n-%d spooled %d times (create loses nothing)", i, c)
				}
			}
			t.Logf("%s: %d lines written, %d rotations, %d in files, %d more read before logrotate truncated them",
				mode, n, rotations, want, rescued)
		})
	}
}
