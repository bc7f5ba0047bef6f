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

	"github.com/capstan-agent/capstan/shipper/delivery"
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

// dumpLine is one line of `capstan spool dump`: the NDJSON outputs' record
// and where it lies.
type dumpLine struct {
	Stream    string            `json:"stream"`
	Partition int               `json:"partition"`
	Offset    uint64            `json:"offset"`
	TS        string            `json:"ts"`
	Attrs     map[string]string `json:"attrs"`
	Body      string            `json:"body"`
}

func dumpLines(t *testing.T, out string) []dumpLine {
	t.Helper()
	var recs []dumpLine
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var d dumpLine
		dec := json.NewDecoder(strings.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&d); err != nil {
			t.Fatalf("dump line %q: %v", line, err)
		}
		recs = append(recs, d)
	}
	return recs
}

func TestSpoolDump(t *testing.T) {
	dir, _ := makeSpool(t)
	code, out, errs := runCmd("spool", "dump", "-from", "148", dir, "logs/1")
	if code != 0 || errs != "" {
		t.Fatalf("dump: %d %q", code, errs)
	}
	recs := dumpLines(t, out)
	if len(recs) != 2 {
		t.Fatalf("dump from 148 printed %d lines:\n%s", len(recs), out)
	}
	if r := recs[0]; r.Stream != "logs" || r.Partition != 1 || r.Offset != 148 || r.Attrs["file"] != "/var/log/logs" || r.Attrs["n"] != "3" || r.Body != "logs line 298" {
		t.Fatalf("dump line %+v", r)
	}
}

// Flags may follow the arguments, for every spool command.
func TestSpoolFlagsAfterArguments(t *testing.T) {
	dir, _ := makeSpool(t)
	_, before, _ := runCmd("spool", "dump", "-from", "148", dir, "logs/1")
	for _, args := range [][]string{
		{"spool", "dump", dir, "logs/1", "-from", "148"},
		{"spool", "dump", dir, "-from=148", "logs/1"},
		{"spool", "dump", "--from", "148", dir, "logs/1"},
	} {
		if code, out, errs := runCmd(args...); code != 0 || out != before {
			t.Errorf("%v: exit %d, %q\n%s", args[2:], code, errs, out)
		}
	}
	for _, cmd := range []string{"inspect", "lag"} {
		code, out, errs := runCmd("spool", cmd, dir, "-json")
		if code != 0 || !json.Valid([]byte(out)) {
			t.Errorf("%s DIR -json: exit %d %q\n%s", cmd, code, errs, out)
		}
	}
	if code, _, errs := runCmd("spool", "dump", dir, "logs/1", "-from"); code != 2 || !strings.Contains(errs, "flag needs an argument") {
		t.Errorf("a flag without its value: exit %d %q", code, errs)
	}
	if code, _, errs := runCmd("spool", "dump", dir, "logs/1", "extra"); code != 2 || !strings.Contains(errs, "want 2 argument(s), got 3") {
		t.Errorf("an argument too many: exit %d %q", code, errs)
	}
}

// A stream without /N is dumped whole, every partition, each line saying
// which partition it comes from.
func TestSpoolDumpEveryPartition(t *testing.T) {
	dir, _ := makeSpool(t)
	code, out, errs := runCmd("spool", "dump", dir, "logs")
	if code != 0 || errs != "" {
		t.Fatalf("dump: %d %q", code, errs)
	}
	next := map[int]uint64{}
	for _, r := range dumpLines(t, out) {
		if r.Stream != "logs" || r.Offset != next[r.Partition] {
			t.Fatalf("line %+v after offset %d of partition %d", r, next[r.Partition], r.Partition)
		}
		next[r.Partition]++
	}
	if len(next) != 2 || next[0] != 150 || next[1] != 150 {
		t.Fatalf("records per partition: %v, want 150 of each of 2", next)
	}
	code, _, errs = runCmd("spool", "dump", dir, "nosuch")
	if code != 2 || !strings.Contains(errs, `no stream "nosuch"`) || !strings.Contains(errs, "streams: logs, metrics") {
		t.Fatalf("dump of a missing stream: %d %q", code, errs)
	}
}

// A dump line is the NDJSON outputs' record, with where it lies in front.
func TestSpoolDumpIsTheNDJSONRecord(t *testing.T) {
	dir, _ := makeSpool(t)
	_, out, _ := runCmd("spool", "dump", "-from", "148", dir, "logs/1")
	got := strings.SplitN(out, "\n", 2)[0]
	var b batch.Builder
	b.Reset(0, []batch.Attr{batch.StringAttr("file", "/var/log/logs")})
	b.AddWithAttrs(298, []byte("logs line 298"), []batch.Attr{batch.StringAttr("n", "3")})
	bt, _, err := batch.Decode(b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	it := bt.Records()
	var rec batch.Record
	it.Next(&rec)
	want := `{"stream":"logs","partition":1,"offset":148,` + string(delivery.AppendBatchRecord(nil, bt.SourceAttrs(), &rec))[1:]
	if got+"\n" != want {
		t.Fatalf("dump line\n%s\nNDJSON output's record\n%s", got, want)
	}
}

// Each spool command prints its own usage for --help and -h, on stdout.
func TestSpoolCommandHelp(t *testing.T) {
	for _, cmd := range []string{"inspect", "verify", "dump", "lag"} {
		for _, args := range [][]string{{"spool", cmd, "--help"}, {"spool", cmd, "-h"}, {"spool", "help", cmd}, {"spool", cmd, "DIR", "--help"}} {
			code, out, errs := runCmd(args...)
			if code != 0 || errs != "" || !strings.HasPrefix(out, "Usage: capstan spool "+cmd+" ") {
				t.Errorf("%v: exit %d, stderr %q, stdout %q", args, code, errs, out)
			}
		}
	}
	if code, out, _ := runCmd("spool", "--help"); code != 0 || !strings.Contains(out, "Commands:") {
		t.Errorf("spool --help: %d %q", code, out)
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
