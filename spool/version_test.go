package spool

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// The spool holds batches of every format version side by side: recovery
// past a damaged batch resynchronises on the next good batch whatever its
// version, and readers decode both.
func TestRecoveryFindsEveryVersion(t *testing.T) {
	dir := memDir(t)
	s := openTest(t, dir, Options{Fsync: FsyncNever})
	p := mustStream(t, s, "logs", StreamOptions{}).Partition(0)
	want := map[uint64]string{}
	for i, mk := range []func(uint64, uint64, int, string) []byte{mkBatch, mkBatchV2, mkBatchV2, mkBatch} {
		b := mk(0, uint64(i), 2, "v")
		res := mustAppend(t, p, b)
		for j := uint64(0); j < res.Next-res.Base; j++ {
			if i > 0 { // the first batch is damaged below
				want[res.Base+j] = fmt.Sprintf("v-%d-%d", i, j)
			}
		}
	}
	seg := p.active().path
	s.Close()

	data, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	data[8] ^= 0x01 // the first batch's length: the header walk loses its way
	if err := os.WriteFile(seg, data, 0o644); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(filepath.Dir(seg), "00000000000000000000"+indexSuffix))

	s = openTest(t, dir, Options{Fsync: FsyncNever})
	p = mustStream(t, s, "logs", StreamOptions{}).Partition(0)
	got, _, _ := readAll(t, p, 0)
	for off, body := range want {
		if got[off] != body {
			t.Fatalf("offset %d: %q, want %q (got %v)", off, got[off], body, got)
		}
	}
}
