package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/capstan-agent/capstan/shipper/kafka/kafkatest"
)

// kafkaKillRun tails two growing files into a kafka output (key: the
// file's path, so each file stays in one Kafka partition) and SIGKILLs
// capstan at random moments while the kfake cluster, a process of its
// own, lives on. It returns the records read back at isolation level iso
// once every line is committed, and the number of kills.
func kafkaKillRun(t *testing.T, c *kafkatest.Cluster, topic string, exactlyOnce bool, iso kafkatest.Isolation) (recs []*kgo.Record, files []string, lines, kills int) {
	t.Helper()
	lines, kills, rate := killRounds()
	lines /= 2 // two files
	dir := t.TempDir()
	files = []string{filepath.Join(dir, "in", "a.log"), filepath.Join(dir, "in", "b.log")}
	os.MkdirAll(filepath.Dir(files[0]), 0o755)
	cfg := filepath.Join(dir, "capstan.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`data_dir: %s
log: {format: json}
http: {address: "127.0.0.1:0"}
inputs:
  app: {type: file, include: [%q], start_at: beginning, poll_interval: 20ms}
outputs:
  events:
    type: kafka
    brokers: [%s]
    topic: %s
    key: log.file.path
    encoding: raw
    exactly_once: %v
    batch: {max_records: 500} # small requests: kills land in the middle of transactions
    retry: {initial: 20ms, max: 200ms}
`, filepath.Join(dir, "data"), filepath.Join(dir, "in", "*.log"), strings.Join(c.Brokers, ", "), topic, exactlyOnce)), 0o644)
	// The files differ from their first line: the file input knows a file
	// by its first bytes, and would take a copy for a rotated file.
	for _, f := range files {
		os.WriteFile(f, []byte("start "+filepath.Base(f)+"\n"), 0o644)
	}
	writers := []*lineWriter{startWriter(t, files[0], lines, rate/2), startWriter(t, files[1], lines, rate/2)}
	p := startAgent(t, dir, env(), "-c", cfg)
	p.waitLog("agent started")
	resumed := 0 // starts that found Kafka ahead of the checkpoint
	for range kills {
		time.Sleep(time.Duration(100+rand.IntN(400)) * time.Millisecond)
		p.cmd.Process.Kill()
		p.wait()
		resumed += strings.Count(p.allLogs(), "Kafka holds records past the checkpoint")
		p = startAgent(t, dir, env(), "-c", cfg)
		p.waitLog("agent started")
	}
	for _, w := range writers {
		<-w.done
	}
	deadline := time.Now().Add(2 * time.Minute)
	for committed(t, filepath.Join(dir, "data"), "events") < uint64(2*lines+2) {
		if time.Now().After(deadline) {
			t.Fatalf("after two minutes the output committed %d of %d lines", committed(t, filepath.Join(dir, "data"), "events"), 2*lines+2)
		}
		time.Sleep(50 * time.Millisecond)
	}
	p.signal(syscall.SIGTERM)
	if code := p.wait(); code != 0 {
		t.Errorf("exit %d after SIGTERM:\n%s", code, p.allLogs())
	}
	resumed += strings.Count(p.allLogs(), "Kafka holds records past the checkpoint")
	all := c.ReadAll(topic, iso, time.Minute)
	if exactlyOnce {
		t.Logf("%d records at read_uncommitted (aborted transactions included), %d at read_committed; %d starts resumed at Kafka's offset, past the checkpoint",
			len(c.ReadAll(topic, kafkatest.ReadUncommitted, time.Minute)), len(all), resumed)
	}
	for _, r := range all {
		if !bytes.HasPrefix(r.Value, []byte("start ")) {
			recs = append(recs, r)
		}
	}
	return recs, files, lines, kills
}

// lineNumber is n of "line %07d xxx…", or -1.
func lineNumber(v []byte) int {
	f := bytes.Fields(v)
	if len(f) != 3 || string(f[0]) != "line" {
		return -1
	}
	n, err := strconv.Atoi(string(f[1]))
	if err != nil {
		return -1
	}
	return n
}

// TestKafkaExactlyOnceUnderKill: with exactly_once, a read_committed
// consumer sees every line of each file once and in order, whatever
// capstan was doing when it was killed; kcat (librdkafka, not franz-go)
// reads the same.
func TestKafkaExactlyOnceUnderKill(t *testing.T) {
	if testing.Short() {
		t.Skip("runs agents for a while")
	}
	c := kafkatest.Start(t, kafkatest.Options{Brokers: 3, Topics: map[string]int32{"events": 3}})
	recs, files, lines, kills := kafkaKillRun(t, c, "events", true, kafkatest.ReadCommitted)
	next := map[string]int{}
	for _, r := range recs {
		n := lineNumber(r.Value)
		if n < 0 {
			t.Fatalf("%q is no line of the input", r.Value)
		}
		if want := next[string(r.Key)]; n != want {
			t.Fatalf("%s: line %d where line %d should be (a line lost or written twice)", r.Key, n, want)
		}
		next[string(r.Key)]++
	}
	for _, f := range files {
		if next[f] != lines {
			t.Errorf("%s: %d lines in Kafka, want %d", f, next[f], lines)
		}
	}
	t.Logf("%d lines in 2 files, %d kills: read_committed sees every line once, in order per file", 2*lines, kills)

	// An independent client: kcat at read_committed (librdkafka's default).
	kcat := kafkatest.Kcat(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, kcat, "-C", "-b", c.BrokerList(), "-t", "events", "-e", "-q",
		"-X", "isolation.level=read_committed", "-f", "%k %s\n").Output()
	if err != nil {
		t.Fatalf("kcat: %v", err)
	}
	seen := map[string]int{}
	for l := range strings.Lines(string(out)) {
		k, v, _ := strings.Cut(strings.TrimSuffix(l, "\n"), " ")
		if strings.HasPrefix(v, "start ") {
			continue
		}
		if lineNumber([]byte(v)) < 0 {
			t.Fatalf("kcat read %q", l)
		}
		seen[k+" "+strings.Fields(v)[1]]++
	}
	for k, n := range seen {
		if n != 1 {
			t.Fatalf("kcat read %s %d times", k, n)
		}
	}
	if len(seen) != 2*lines {
		t.Errorf("kcat read %d distinct lines, want %d", len(seen), 2*lines)
	}
}

// TestKafkaAtLeastOnceUnderKill: without exactly_once nothing is lost
// across kills, and what a kill costs in duplicates is measured (the
// requests in flight at the kill: at most one per partition of the spool,
// batch.max_records lines each).
func TestKafkaAtLeastOnceUnderKill(t *testing.T) {
	if testing.Short() {
		t.Skip("runs agents for a while")
	}
	c := kafkatest.Start(t, kafkatest.Options{Topics: map[string]int32{"events": 3}})
	recs, files, lines, kills := kafkaKillRun(t, c, "events", false, kafkatest.ReadUncommitted)
	seen := map[string][]int{}
	for _, f := range files {
		seen[f] = make([]int, lines)
	}
	dups := 0
	for _, r := range recs {
		n := lineNumber(r.Value)
		s := seen[string(r.Key)]
		if n < 0 || s == nil || n >= len(s) {
			t.Fatalf("%s %q is no line of the input", r.Key, r.Value)
		}
		if s[n]++; s[n] > 1 {
			dups++
		}
	}
	for f, s := range seen {
		for n, k := range s {
			if k == 0 {
				t.Fatalf("%s: line %d lost", f, n)
			}
		}
	}
	t.Logf("%d lines, %d kills: none lost, %d duplicates (%.0f a kill)", 2*lines, kills, dups, float64(dups)/float64(kills))
	if bound := kills * 4 * 500; dups > bound {
		t.Errorf("%d duplicates after %d kills: more than the requests in flight allow (%d)", dups, kills, bound)
	}
}
