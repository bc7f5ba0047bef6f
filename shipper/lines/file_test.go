package lines

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/capstan-agent/capstan/component/componenttest"
	"github.com/capstan-agent/capstan/component/conf"
	"github.com/capstan-agent/capstan/shipper/delivery"
	"github.com/capstan-agent/capstan/spool"
	"github.com/capstan-agent/capstan/spool/spooltest"
)

// fileLines is every line of the output's files, oldest file first.
func fileLines(t *testing.T, path string, maxFiles int) []string {
	t.Helper()
	var all []string
	for i := maxFiles; i >= 0; i-- {
		name := path
		if i > 0 {
			name += "." + strconv.Itoa(i)
		}
		b, err := os.ReadFile(name)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(b) > 0 {
			all = append(all, strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")...)
		}
	}
	return all
}

// exactlyOnce checks that lines are rec-0 … rec-(n-1), once each, in order.
func exactlyOnce(t *testing.T, lines []string, n int) {
	t.Helper()
	if len(lines) != n {
		t.Errorf("%d lines, want %d", len(lines), n)
	}
	for i, l := range lines {
		if l != fmt.Sprintf("rec-%d", i) {
			t.Fatalf("line %d is %q, want rec-%d (lines %v…)", i, l, i, lines[max(0, i-3):min(len(lines), i+3)])
		}
	}
}

type fileRig struct {
	t    *testing.T
	sp   *spool.Spool
	st   *spool.Stream
	path string
	cfg  *FileConfig
	n    int // records appended
}

func newFileRig(t *testing.T, maxBytes int64, maxFiles int) *fileRig {
	sp := spooltest.Open(t, t.TempDir(), spool.Options{}, map[string]int{"app": 1})
	path := filepath.Join(t.TempDir(), "out.log")
	return &fileRig{t: t, sp: sp, st: spooltest.Stream(t, sp, "app"), path: path,
		cfg: defaults(func(c *FileConfig) { c.Path, c.MaxBytes, c.MaxFiles = path, confSize(maxBytes), maxFiles })}
}

func (r *fileRig) add(n int) {
	spooltest.AppendNumbered(r.t, r.st.Partition(0), 0, "rec", r.n, n, 10)
	r.n += n
}

func (r *fileRig) host() *componenttest.Host { return host(r.sp, "f", r.st) }

// deliver runs the output until every record is committed.
func (r *fileRig) deliver() *delivery.Engine {
	r.t.Helper()
	o, err := NewFile(settings("f"), r.cfg)
	if err != nil {
		r.t.Fatal(err)
	}
	run(r.t, o, r.host(), fmt.Sprintf("%d records committed", r.n), func() bool { return r.committed() == uint64(r.n) })
	return o
}

func (r *fileRig) committed() uint64 {
	got, _ := r.sp.Checkpoints().Load("f")
	return got[spool.Key{Stream: "app"}]
}

func (r *fileRig) state() fileState {
	r.t.Helper()
	b, err := os.ReadFile(r.host().StatePath())
	if err != nil {
		r.t.Fatal(err)
	}
	var st fileState
	if err := json.Unmarshal(b, &st); err != nil {
		r.t.Fatal(err)
	}
	return st
}

func TestFileRotation(t *testing.T) {
	r := newFileRig(t, 500, 3)
	r.add(300)
	r.deliver()
	for _, name := range []string{r.path + ".3", r.path + ".2", r.path + ".1", r.path} {
		if fi, err := os.Stat(name); err != nil || fi.Size() > 500 {
			t.Errorf("%s: %v, %d bytes (max 500)", name, err, fi.Size())
		}
	}
	if _, err := os.Stat(r.path + ".4"); !os.IsNotExist(err) {
		t.Errorf("kept more than 3 rotated files: %v", err)
	}
	// The newest lines are kept, in order, the oldest rotated away.
	all := fileLines(t, r.path, 3)
	if all[len(all)-1] != "rec-299" {
		t.Fatalf("last line %q", all[len(all)-1])
	}
	for i := 1; i < len(all); i++ {
		var a, b int
		fmt.Sscanf(all[i-1], "rec-%d", &a)
		fmt.Sscanf(all[i], "rec-%d", &b)
		if b != a+1 {
			t.Fatalf("line %q follows %q", all[i], all[i-1])
		}
	}
}

// The states a kill -9 can leave behind, each made by hand: the output
// starts, makes the files agree with its state, and goes on so that every
// line is in them exactly once.
func TestFileRecoversFromCrashes(t *testing.T) {
	for _, tc := range []struct {
		name  string
		crash func(r *fileRig)
	}{
		{"nothing happened", func(r *fileRig) {}},
		{"lines written after the last recorded state", func(r *fileRig) {
			appendTo(r.t, r.path, "rec-99\nrec-100\nrec-1")
		}},
		{"state recorded, the checkpoint not yet", func(r *fileRig) {
			if err := r.sp.Checkpoints().Commit("f", map[spool.Key]uint64{{Stream: "app"}: 40}); err != nil {
				r.t.Fatal(err)
			}
		}},
		{"killed during a rotation, after the rename", func(r *fileRig) {
			rotateByHand(r)
		}},
		{"killed during a rotation, new file already made", func(r *fileRig) {
			rotateByHand(r)
			appendTo(r.t, r.path, "rec-77\n")
		}},
		{"power loss: the file lost its unsynced tail", func(r *fileRig) {
			st := r.state()
			st.Size += 40 // recorded more than the disk kept
			st.Offsets["app/0"] += 5
			b, _ := json.Marshal(st)
			os.WriteFile(r.host().StatePath(), b, 0o644)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newFileRig(t, 1<<20, 5)
			r.add(100)
			r.deliver()
			tc.crash(r)
			r.add(50)
			r.deliver()
			exactlyOnce(t, fileLines(t, r.path, 5), 150)
		})
	}
}

// appendTo appends s to the file at path.
func appendTo(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(s)
	f.Close()
}

// rotateByHand does what a rotation does up to its rename, and writes
// lines into the rotated file past the recorded size, as a request would
// have before the rotation.
func rotateByHand(r *fileRig) {
	r.t.Helper()
	if err := os.Rename(r.path, r.path+".1"); err != nil {
		r.t.Fatal(err)
	}
	appendTo(r.t, r.path+".1", "rec-100\n")
}

// Without a state file (a file written before this version, or the state
// removed) the output appends after what the file holds, from the
// checkpoint: nothing is cut.
func TestFileWithoutState(t *testing.T) {
	r := newFileRig(t, 1<<20, 5)
	r.add(10)
	os.WriteFile(r.path, []byte("kept\n"), 0o644)
	r.deliver()
	lines := fileLines(t, r.path, 5)
	if len(lines) != 11 || lines[0] != "kept" || lines[10] != "rec-9" {
		t.Fatalf("file holds %v", lines)
	}
}

// A damaged state file fails the start with a message that says what to do.
func TestFileDamagedState(t *testing.T) {
	r := newFileRig(t, 1<<20, 5)
	os.MkdirAll(filepath.Dir(r.host().StatePath()), 0o755)
	os.WriteFile(r.host().StatePath(), []byte("{nonsense"), 0o644)
	o, err := NewFile(settings("f"), r.cfg)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- o.Run(t.Context(), r.host()) }()
	if err := <-done; err == nil || !strings.Contains(err.Error(), "is damaged (remove it") {
		t.Fatalf("Run: %v", err)
	}
}

func confSize(n int64) conf.Size { return conf.Size(n) }
