package spool

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/capstan-agent/capstan/spool/batch"
)

// damageFixture is a small spool of three segments, an index entry at every
// batch, and the original records by offset.
type damageFixture struct {
	files   map[string][]byte // path relative to the data dir → content
	records map[uint64]string
	batchOf map[string][][2]int64 // .log path → [pos, end) of each batch
	firstOf map[string][]uint64   // .log path → base offset of each batch
	next    uint64
}

var damageOpts = Options{SegmentBytes: 1536, IndexInterval: 1, Fsync: FsyncNever}

// memDir is a temporary directory on tmpfs where there is one: these tests
// reopen a spool thousands of times, and the fsyncs of a real disk would make
// them take minutes without testing anything more.
func memDir(t *testing.T) string {
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		if dir, err := os.MkdirTemp("/dev/shm", "capstan-test-"); err == nil {
			t.Cleanup(func() { os.RemoveAll(dir) })
			return dir
		}
	}
	return t.TempDir()
}

// soak reports whether the long versions of the tests were asked for.
func soak() bool { return os.Getenv("CAPSTAN_SOAK") != "" }

func makeDamageFixture(t *testing.T) *damageFixture {
	dir := memDir(t)
	s := openTest(t, dir, damageOpts)
	p := mustStream(t, s, "logs", StreamOptions{}).Partition(0)
	f := &damageFixture{files: map[string][]byte{}, records: map[uint64]string{},
		batchOf: map[string][][2]int64{}, firstOf: map[string][]uint64{}}
	batches := 36
	if soak() {
		batches = 120
	}
	for i := 0; i < batches; i++ {
		mk := mkBatch // every other batch in version 2: recovery finds both
		if i%2 == 1 {
			mk = mkBatchV2
		}
		b := mk(uint64(1+i%3), uint64(i), 1+i%3, "dmg")
		seg := p.active()
		pos := seg.size.Load()
		res := mustAppend(t, p, b)
		seg = p.active()
		if res.Base != seg.base && pos == 0 {
			t.Fatal("fixture bookkeeping")
		}
		rel, _ := filepath.Rel(dir, seg.path)
		start := seg.size.Load() - int64(len(b))
		f.batchOf[rel] = append(f.batchOf[rel], [2]int64{start, seg.size.Load()})
		f.firstOf[rel] = append(f.firstOf[rel], res.Base)
		for j := uint64(0); j < res.Next-res.Base; j++ {
			f.records[res.Base+j] = fmt.Sprintf("dmg-%d-%d", i, j)
		}
	}
	if p.Stats().Segments < 3 {
		t.Fatalf("fixture has %d segments", p.Stats().Segments)
	}
	f.next = p.NextOffset()
	s.Close()
	filepath.Walk(dir, func(path string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() && !strings.HasSuffix(path, "LOCK") {
			rel, _ := filepath.Rel(dir, path)
			f.files[rel], _ = os.ReadFile(path)
		}
		return nil
	})
	return f
}

// restore lays the fixture's files out in dir, removing anything else.
func (f *damageFixture) restore(t *testing.T, dir string) {
	os.RemoveAll(filepath.Join(dir, "spool"))
	for rel, b := range f.files {
		os.MkdirAll(filepath.Dir(filepath.Join(dir, rel)), 0o755)
		if err := os.WriteFile(filepath.Join(dir, rel), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// allowedLoss is the set of offsets a damage at pos of file rel may cost: the
// batch it hit (a damaged log) or nothing (a damaged index or snapshot).
func (f *damageFixture) allowedLoss(rel string, pos int64) map[uint64]bool {
	lost := map[uint64]bool{}
	for i, r := range f.batchOf[rel] {
		if pos >= r[0] && pos < r[1] {
			end := f.next
			if i+1 < len(f.firstOf[rel]) {
				end = f.firstOf[rel][i+1]
			} else if next := f.nextSegmentBase(rel); next > 0 {
				end = next
			}
			for o := f.firstOf[rel][i]; o < end; o++ {
				lost[o] = true
			}
		}
	}
	return lost
}

func (f *damageFixture) nextSegmentBase(rel string) uint64 {
	var bases []uint64
	for r := range f.batchOf {
		base, _ := parseSegmentName(filepath.Base(r), logSuffix)
		bases = append(bases, base)
	}
	sort.Slice(bases, func(i, j int) bool { return bases[i] < bases[j] })
	me, _ := parseSegmentName(filepath.Base(rel), logSuffix)
	for _, b := range bases {
		if b > me {
			return b
		}
	}
	return 0
}

// check reopens the damaged spool and reads it all: it must open, return no
// record that differs from the original, and lose at most allowed.
func (f *damageFixture) check(t *testing.T, dir, what string, allowed map[uint64]bool) {
	s, err := Open(dir, damageOpts)
	if err != nil {
		t.Fatalf("%s: reopen: %v", what, err)
	}
	defer s.Close()
	st, err := s.Stream("logs", StreamOptions{})
	if err != nil {
		t.Fatalf("%s: open stream: %v", what, err)
	}
	p := st.Partition(0)
	got, _, _ := readAll(t, p, 0)
	for off, body := range got {
		if f.records[off] != body {
			t.Fatalf("%s: offset %d holds %q, want %q", what, off, body, f.records[off])
		}
	}
	for off := range f.records {
		if _, ok := got[off]; !ok && !allowed[off] {
			t.Fatalf("%s: lost offset %d, which the damage did not touch", what, off)
		}
	}
	// The spool takes appends again, after the end it recovered.
	res, err := p.Append(context.Background(), mkBatch(0, 1, 1, "after"))
	if err != nil || res.Base < p.OldestOffset() {
		t.Fatalf("%s: append after damage: %+v %v", what, res, err)
	}
}

func TestByteFlipsLoseOnlyTheDamagedBatch(t *testing.T) {
	f := makeDamageFixture(t)
	dir := memDir(t)
	// Every byte of every file is damaged; the soak run tries two masks at
	// each, the short run alternates them.
	masks := []byte{0x01, 0xff}
	names := make([]string, 0, len(f.files))
	for rel := range f.files {
		names = append(names, rel)
	}
	sort.Strings(names)
	cases := 0
	for _, rel := range names {
		if !strings.HasPrefix(rel, "spool") {
			continue
		}
		content := f.files[rel]
		for pos := int64(0); pos < int64(len(content)); pos++ {
			for i, mask := range masks {
				if !soak() && int64(i) != pos%2 && !nearHeader(f.batchOf[rel], pos) {
					continue
				}
				f.restore(t, dir)
				b := append([]byte(nil), content...)
				b[pos] ^= mask
				os.WriteFile(filepath.Join(dir, rel), b, 0o644)
				f.check(t, dir, fmt.Sprintf("%s byte %d ^ %#x", rel, pos, mask), f.allowedLoss(rel, pos))
				cases++
			}
		}
	}
	t.Logf("%d damaged spools reopened", cases)
}

// nearHeader reports whether pos lies in a batch's fixed header, where every
// byte is tried even in short runs.
func nearHeader(batches [][2]int64, pos int64) bool {
	for _, r := range batches {
		if pos >= r[0] && pos < r[0]+batch.HeaderSize {
			return true
		}
	}
	return false
}

func TestTruncationAtEveryPosition(t *testing.T) {
	f := makeDamageFixture(t)
	dir := memDir(t)
	for rel, content := range f.files {
		if !strings.HasSuffix(rel, logSuffix) && !strings.HasSuffix(rel, indexSuffix) {
			continue
		}
		for cut := int64(0); cut < int64(len(content)); cut++ {
			f.restore(t, dir)
			os.Truncate(filepath.Join(dir, rel), cut)
			allowed := map[uint64]bool{}
			if strings.HasSuffix(rel, logSuffix) {
				for pos := cut; pos < int64(len(content)); pos++ {
					for o := range f.allowedLoss(rel, pos) {
						allowed[o] = true
					}
				}
			}
			f.check(t, dir, fmt.Sprintf("%s cut at %d", rel, cut), allowed)
		}
	}
}
