package file

import (
	"encoding/json"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/file/golden")

// copyTree copies testdata/file into dir, keeping the layout.
func copyTree(t *testing.T, dir string) {
	t.Helper()
	src := filepath.Join("..", "..", "testdata", "file")
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.Contains(p, "golden") {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		writeFile(t, filepath.Join(dir, rel), string(b))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

const podDir = "pods/shop_cart-7d9f_0b6f3c1e-2a4d-4f1a-9c57-2d1f3e4a5b6c/cart"

func TestGolden(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"cri-rotated", Config{Format: "cri", Include: []string{"$LOGS/pods/*/*/*.log*"}, Exclude: []string{"$LOGS/**/*.gz"}}},
		{"containers-symlink", Config{Format: "cri", Include: []string{"$LOGS/containers/*.log"}}},
		{"docker", Config{Format: "docker", Include: []string{"$LOGS/docker/*-json.log"}}},
		{"multiline", Config{Include: []string{"$LOGS/multiline/*.log"},
			Multiline: &MultilineConfig{StartPattern: `^\d{4}-\d\d-\d\d `, FlushTimeout: 50 * time.Millisecond}}},
		{"json", Config{Format: "json", Include: []string{"$LOGS/json/*.log"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.cfg, 1)
			copyTree(t, h.logs)
			os.MkdirAll(h.path("containers"), 0o755)
			link := h.path("containers/cart-7d9f_shop_cart-" + strings.Repeat("ab", 32) + ".log")
			if err := os.Symlink(filepath.Join(h.logs, podDir, "0.log"), link); err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("..", "..", "testdata", "file", "golden", tc.name+".golden")
			want, _ := os.ReadFile(golden)
			wantLines := strings.Count(string(want), "\n")
			h.start()
			var recs []rec
			if *update {
				time.Sleep(time.Second)
				recs = h.records()
			} else {
				h.waitCount(wantLines)
				recs = h.settled("the input's records past the golden's", 2*h.cfg.PollInterval) // nothing more may come
			}
			sort.SliceStable(recs, func(i, j int) bool { return recs[i].attrs["log.file.path"] < recs[j].attrs["log.file.path"] })
			var b strings.Builder
			for _, r := range recs {
				m := map[string]any{}
				for k, v := range r.attrs {
					m[k] = v
				}
				m["log.file.path"], _ = filepath.Rel(h.logs, r.attrs["log.file.path"])
				m["body"] = r.body
				// Fixture times are all before 2025; a later one is the time
				// the line was read, which changes from run to run.
				if r.ts < time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano() {
					m["ts"] = time.Unix(0, r.ts).UTC().Format(time.RFC3339Nano)
				}
				line, _ := json.Marshal(m)
				b.Write(line)
				b.WriteByte('\n')
			}
			if *update {
				writeFile(t, golden, b.String())
				return
			}
			if b.String() != string(want) {
				t.Errorf("records differ from %s:\n got:\n%s\nwant:\n%s", golden, b.String(), want)
			}
		})
	}
}
