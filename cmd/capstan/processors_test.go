package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/capstan-agent/capstan/spool"
	"github.com/capstan-agent/capstan/spool/batch"
)

// TestProcessorsExactlyOnceUnderKill: a file of mixed JSON and plain lines
// goes through processors (parse, redact, drop health checks, route by
// level) into two streams while the agent is SIGKILLed at random and
// restarted. At the end each stream holds exactly the records expected of
// it, each once, with the fields the processors made: what is re-read
// after a kill is processed the same way and dropped by the spool as
// already stored.
func TestProcessorsExactlyOnceUnderKill(t *testing.T) {
	if testing.Short() {
		t.Skip("runs an agent for a while")
	}
	lines, rounds := 40_000, 6
	if os.Getenv("CAPSTAN_SOAK") != "" {
		lines, rounds = 400_000, 30
	}
	dir := t.TempDir()
	logFile := filepath.Join(dir, "app.log")
	data := filepath.Join(dir, "data")
	cfg := filepath.Join(dir, "capstan.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`data_dir: %s
http: {address: ""}
streams:
  debug: {partitions: 2}
inputs:
  app:
    type: file
    include: [%q]
    start_at: beginning
    poll_interval: 20ms
    processors:
      - {type: json, merge: true}
      - {type: filter, drop_if: 'attrs["path"] == "/healthz"'}
      - {type: redact, detectors: [email]}
      - type: route
        cases:
          - {if: 'attrs["level"] == "debug"', stream: debug}
outputs:
  main: {type: file, path: %q, encoding: ndjson, streams: [default]}
  debugging: {type: file, path: %q, encoding: ndjson, streams: [debug]}
`, data, logFile, filepath.Join(dir, "default.out"), filepath.Join(dir, "debug.out"))), 0o644)

	// Line i: every 5th is plain text, every 7th a health check, every
	// 3rd (of the rest) debug; some carry an e-mail address.
	line := func(i int) string {
		switch {
		case i%5 == 0:
			return fmt.Sprintf("plain line %d mail bob%d@example.com", i, i)
		case i%7 == 0:
			return fmt.Sprintf(`{"level":"info","path":"/healthz","n":%d}`, i)
		case i%3 == 0:
			return fmt.Sprintf(`{"level":"debug","msg":"detail","n":%d}`, i)
		}
		return fmt.Sprintf(`{"level":"info","msg":"user alice%d@example.com logged in","n":%d}`, i, i)
	}
	written := 0
	appendLines := func(n int) {
		f, err := os.OpenFile(logFile, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		var b []byte
		for i := written; i < written+n; i++ {
			b = append(append(b, line(i)...), '\n')
		}
		f.Write(b)
		f.Close()
		written += n
	}
	start := func() *agentProc {
		p := startAgent(t, dir, env(), "-c", cfg)
		p.waitLog("agent started")
		return p
	}
	p := start()
	for round := 0; round < rounds; round++ {
		appendLines(lines / rounds)
		time.Sleep(time.Duration(20+rand.IntN(300)) * time.Millisecond)
		p.cmd.Process.Kill()
		p.wait()
		p = start()
	}
	// What each stream must hold.
	want := map[string]map[string]bool{"default": {}, "debug": {}}
	for i := 0; i < written; i++ {
		switch {
		case i%5 == 0:
			want["default"][fmt.Sprintf("plain line %d mail ****", i)] = true
		case i%7 == 0: // dropped
		case i%3 == 0:
			want["debug"][fmt.Sprintf("level=debug msg=detail n=%d", i)] = true
		default:
			want["default"][fmt.Sprintf("level=info msg=user **** logged in n=%d", i)] = true
		}
	}
	count := func() int {
		info, err := spool.Inspect(data)
		if err != nil {
			return 0
		}
		n := 0
		for _, part := range info.Partitions {
			n += int(part.Next - part.Oldest)
		}
		return n
	}
	deadline := time.Now().Add(60 * time.Second)
	for count() < len(want["default"])+len(want["debug"]) {
		if time.Now().After(deadline) {
			t.Fatalf("after 60s the spool holds %d of %d records:\n%s", count(), len(want["default"])+len(want["debug"]), p.allLogs())
		}
		time.Sleep(50 * time.Millisecond)
	}
	p.signal(syscall.SIGTERM)
	if code := p.wait(); code != 0 {
		t.Fatalf("exit %d:\n%s", code, p.allLogs())
	}

	info, err := spool.Inspect(data)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]map[string]int{"default": {}, "debug": {}}
	for _, part := range info.Partitions {
		err := spool.Scan(data, part.Key, 0, func(b batch.Batch) error {
			if b.Magic != batch.MagicV2 {
				return fmt.Errorf("%s: a processed batch in format version %d", part.Key, b.Magic)
			}
			it := b.Records()
			var rec batch.Record
			for it.Next(&rec) {
				got[part.Key.Stream][describeRecord(&rec)]++
			}
			return it.Err()
		}, func(pr spool.Problem) { t.Errorf("spool: %s", pr) })
		if err != nil {
			t.Fatal(err)
		}
	}
	for stream, recs := range want {
		var missing, extra, twice []string
		for r := range recs {
			if got[stream][r] == 0 {
				missing = append(missing, r)
			}
		}
		for r, n := range got[stream] {
			switch {
			case !recs[r]:
				extra = append(extra, r)
			case n > 1:
				twice = append(twice, r)
			}
		}
		if len(missing)+len(extra)+len(twice) > 0 {
			t.Errorf("stream %s: %d missing (%v), %d unexpected (%v), %d twice (%v)", stream,
				len(missing), first(missing), len(extra), first(extra), len(twice), first(twice))
		}
	}

	// Each stream's output holds the records its stream holds, each once
	// and byte for byte as spool dump prints them (the NDJSON record):
	// what the outputs replayed after each kill is what the spool holds.
	for stream, out := range map[string]string{"default": "default.out", "debug": "debug.out"} {
		r := capstan(t, dir, env(), "spool", "dump", data, stream)
		if r.code != 0 {
			t.Fatalf("spool dump %s: exit %d\n%s", stream, r.code, r.stderr)
		}
		dumped := strings.Split(strings.TrimSpace(r.stdout), "\n")
		for i, d := range dumped { // where the record is, then the record
			dumped[i] = dumpWhere.ReplaceAllString(d, "{")
		}
		b, err := os.ReadFile(filepath.Join(dir, out))
		if err != nil {
			t.Fatal(err)
		}
		delivered := strings.Split(strings.TrimSpace(string(b)), "\n")
		if len(dumped) != len(want[stream]) {
			t.Errorf("spool dump of %s: %d records, want %d", stream, len(dumped), len(want[stream]))
		}
		sort.Strings(dumped)
		sort.Strings(delivered)
		if !slices.Equal(dumped, delivered) {
			t.Errorf("output of stream %s: %d lines, spool dump %d; they differ (first: %v, %v)",
				stream, len(delivered), len(dumped), first(delivered), first(dumped))
		}
	}
}

// dumpWhere is the start of a spool dump line: where the record is, before
// the record as NDJSON outputs write it.
var dumpWhere = regexp.MustCompile(`^\{"stream":"[^"]*","partition":\d+,"offset":\d+,`)

// describeRecord is what a processed record is for the test: a plain
// line's body (redacted), or a parsed line's fields in key order.
func describeRecord(rec *batch.Record) string {
	var kv []string
	it := rec.Attrs()
	for a, ok := it.NextAttr(); ok; a, ok = it.NextAttr() {
		if strings.HasPrefix(string(a.Key), "capstan.") {
			continue // the plain lines' parse_error flag
		}
		kv = append(kv, string(a.Key)+"="+string(a.Value))
	}
	if len(kv) == 0 || strings.HasPrefix(string(rec.Body), "plain") {
		return string(rec.Body)
	}
	sortStrings(kv)
	return strings.Join(kv, " ")
}

func sortStrings(s []string) { sort.Strings(s) }
