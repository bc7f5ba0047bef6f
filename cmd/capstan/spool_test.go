package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/capstan-agent/capstan/spool"
	"github.com/capstan-agent/capstan/spool/batch"
)

// makeSpool writes a spool of two streams, a checkpoint, and returns its dir
// and the path of the first segment of logs/0.
func makeSpool(t *testing.T) (string, string) {
	t.Helper()
	dir := t.TempDir()
	s, err := spool.Open(dir, spool.Options{SegmentBytes: 4096})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, name := range []string{"logs", "metrics"} {
		st, err := s.Stream(name, spool.StreamOptions{Partitions: 2})
		if err != nil {
			t.Fatal(err)
		}
		var b batch.Builder
		for i := 0; i < 60; i++ {
			b.Reset(0, []batch.Attr{batch.StringAttr("file", "/var/log/"+name)})
			for j := 0; j < 5; j++ {
				b.AddWithAttrs(int64(i*5+j), fmt.Appendf(nil, "%s line %d", name, i*5+j), []batch.Attr{batch.StringAttr("n", fmt.Sprint(j))})
			}
			if _, err := st.Partition(i%2).Append(context.Background(), b.Bytes()); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := s.Checkpoints().Register("out"); err != nil {
		t.Fatal(err)
	}
	if err := s.Checkpoints().Commit("out", map[spool.Key]uint64{{Stream: "logs", Partition: 0}: 40}); err != nil {
		t.Fatal(err)
	}
	return dir, filepath.Join(dir, "spool", "logs", "0", "00000000000000000000.log")
}

func runCmd(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestSpoolInspectAndLag(t *testing.T) {
	dir, _ := makeSpool(t)
	code, out, errs := runCmd("spool", "inspect", dir)
	if code != 0 || errs != "" {
		t.Fatalf("inspect: %d %q", code, errs)
	}
	for _, want := range []string{"logs", "metrics", "150", "out  logs/0  40"} {
		if !strings.Contains(out, want) {
			t.Errorf("inspect output lacks %q:\n%s", want, out)
		}
	}
	code, out, _ = runCmd("spool", "inspect", "-json", dir)
	var info spool.Info
	if code != 0 || json.Unmarshal([]byte(out), &info) != nil || len(info.Partitions) != 4 || info.Partitions[0].Next != 150 {
		t.Fatalf("inspect -json: %d %s", code, out)
	}
	code, out, _ = runCmd("spool", "lag", "-json", dir)
	var rows []lagRow
	if code != 0 || json.Unmarshal([]byte(out), &rows) != nil || len(rows) != 1 || rows[0].Records != 110 || rows[0].Bytes <= 0 {
		t.Fatalf("lag: %d %s", code, out)
	}
}

func TestSpoolDump(t *testing.T) {
	dir, _ := makeSpool(t)
	code, out, errs := runCmd("spool", "dump", "-from", "148", dir, "logs/1")
	if code != 0 || errs != "" {
		t.Fatalf("dump: %d %q", code, errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		t.Fatalf("dump from 148 printed %d lines:\n%s", len(lines), out)
	}
	var rec dumpRecord
	if err := json.Unmarshal([]byte(lines[0]), &rec); err != nil || rec.Offset != 148 || rec.Source["file"] != "/var/log/logs" || rec.Attrs["n"] != "3" {
		t.Fatalf("dump line %q: %+v %v", lines[0], rec, err)
	}
}

func TestSpoolVerify(t *testing.T) {
	dir, seg := makeSpool(t)
	if code, out, _ := runCmd("spool", "verify", dir); code != 0 || !strings.HasSuffix(out, "ok\n") {
		t.Fatalf("verify of a good spool: %d %s", code, out)
	}
	b, _ := os.ReadFile(seg)
	b[100] ^= 0xff
	os.WriteFile(seg, b, 0o644)
	code, out, _ := runCmd("spool", "verify", dir)
	if code != 1 || !strings.Contains(out, seg+": byte 0: damaged batch") || !strings.Contains(out, "1 problems") {
		t.Fatalf("verify of a damaged spool: %d\n%s", code, out)
	}
}

// Bad paths and bad usage give one line on stderr and exit 2.
func TestSpoolErrorsAreOneLine(t *testing.T) {
	file := filepath.Join(t.TempDir(), "f")
	os.WriteFile(file, []byte("x"), 0o644)
	for _, args := range [][]string{
		{"spool", "inspect", "/nonexistent/capstan"},
		{"spool", "verify", file},
		{"spool", "verify", t.TempDir()},
		{"spool", "inspect"},
		{"spool", "dump", t.TempDir(), "logs/x"},
		{"spool", "frobnicate", "x"},
	} {
		code, _, errs := runCmd(args...)
		if code != 2 || strings.Count(errs, "\n") != 1 || !strings.HasPrefix(errs, "capstan spool ") {
			t.Errorf("%v: exit %d, stderr %q", args, code, errs)
		}
	}
}

// A checkpoint past the end of its partition is a problem verify names, with
// exit 1.
func TestSpoolVerifyCheckpointBeyondEnd(t *testing.T) {
	dir, _ := makeSpool(t)
	ckpt := filepath.Join(dir, "checkpoints", "out")
	if err := os.WriteFile(ckpt, []byte(`{"version":1,"offsets":{"logs/0":90002,"logs/1":150}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, _ := runCmd("spool", "verify", dir)
	if code != 1 || !strings.Contains(out, "1 problems") {
		t.Fatalf("verify: exit %d\n%s", code, out)
	}
	want := ckpt + ": consumer out: checkpoint 90002 of logs/0 is beyond the partition's next offset 150"
	if !strings.Contains(out, want) {
		t.Fatalf("verify output lacks %q:\n%s", want, out)
	}
}
