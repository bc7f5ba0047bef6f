package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/capstan-agent/capstan/shipper/kafka/kafkatest"
)

// BenchmarkKafkaOutputProcess measures capstan as a real process: a file of
// 200-byte lines → file input → spool → kafka output → a kfake cluster in
// its own process, with and without exactly_once. It reports lines/s from
// the agent's start until Kafka holds every line (at read_committed with
// exactly_once: the last transaction committed), the agent's CPU per line,
// its peak RSS, and the cluster's CPU per line (kfake shares the machine's
// two cores with the agent: it stores every record in memory, decoded).
// CAPSTAN_BENCH_LINES sets the lines (default 2,000,000);
// CAPSTAN_BENCH_PROFILE=DIR writes a 2 s CPU profile of each agent there.
//
//	go test ./cmd/capstan -run '^$' -bench KafkaOutputProcess -benchtime 1x
func BenchmarkKafkaOutputProcess(b *testing.B) {
	lines := 2_000_000
	if v := os.Getenv("CAPSTAN_BENCH_LINES"); v != "" {
		lines, _ = strconv.Atoi(v)
	}
	dir := b.TempDir()
	logFile := filepath.Join(dir, "app.log")
	writeBenchLines(b, logFile, lines)
	for _, tc := range []struct{ name, output string }{
		{"raw-none", `{type: kafka, brokers: [%s], topic: %s, encoding: raw}`},
		{"raw-none-keyed", `{type: kafka, brokers: [%s], topic: %s, encoding: raw, key: log.file.path}`},
		{"raw-none-exactly-once", `{type: kafka, brokers: [%s], topic: %s, encoding: raw, exactly_once: true}`},
		{"json-lz4", `{type: kafka, brokers: [%s], topic: %s, compression: lz4}`},
		{"json-lz4-exactly-once", `{type: kafka, brokers: [%s], topic: %s, compression: lz4, exactly_once: true}`},
	} {
		b.Run(tc.name, func(b *testing.B) {
			for range b.N {
				runKafkaBench(b, dir, logFile, lines, tc.output, strings.Contains(tc.output, "exactly_once: true"))
			}
		})
	}
}

func runKafkaBench(b *testing.B, dir, logFile string, lines int, output string, eos bool) {
	c := kafkatest.Start(b, kafkatest.Options{Topics: map[string]int32{"logs": 4}})
	data := filepath.Join(dir, fmt.Sprintf("data-%d", time.Now().UnixNano()))
	cfg := filepath.Join(dir, "bench.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`data_dir: %s
log: {format: json}
http: {address: "127.0.0.1:0", pprof: true}
spool: {fsync: never}
inputs:
  app: {type: file, include: [%q], start_at: beginning}
outputs:
  out: `+fmt.Sprintf(output, c.BrokerList(), "logs")+`
`, data, logFile)), 0o644)
	kfakeCPU := procCPU(b, c.PID())
	b.ResetTimer()
	start := time.Now()
	cmd := exec.Command(binary, "run", "-c", cfg)
	cmd.Dir, cmd.Env = dir, env()
	var logs lockedBuffer
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	if pdir := os.Getenv("CAPSTAN_BENCH_PROFILE"); pdir != "" {
		go profileAgent(&logs, filepath.Join(pdir, b.Name()+".pprof"))
	}
	// The checkpoint moves once Kafka acknowledged (with exactly_once:
	// committed) a request: polling it costs the cluster nothing.
	deadline := time.Now().Add(10 * time.Minute)
	for committed(b, data, "out") < uint64(lines) {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			b.Fatalf("the output committed %d of %d lines after 10 minutes:\n%s", committed(b, data, "out"), lines, logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	kfakeCPU = procCPU(b, c.PID()) - kfakeCPU
	// The agent's own peak (rusage's maxrss of a child starts at the
	// parent's size when it forks, and this test process holds a topic).
	rss := procHWM(b, cmd.Process.Pid)
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	b.ReportMetric(float64(lines)/elapsed.Seconds()/1e6, "Mlines/s")
	b.ReportMetric(float64(cpu.Microseconds())/float64(lines), "cpu-µs/line")
	b.ReportMetric(float64(kfakeCPU.Microseconds())/float64(lines), "kfake-cpu-µs/line")
	b.ReportMetric(float64(rss)/1024, "peak-RSS-MiB")
	iso := kafkatest.ReadUncommitted
	if eos {
		iso = kafkatest.ReadCommitted
	}
	if got := len(c.ReadAll("logs", iso, 2*time.Minute)); got != lines {
		b.Errorf("Kafka holds %d records (%v), want %d", got, iso, lines)
	}
	c.Kill()
	os.RemoveAll(data)
}

// procCPU is the user+system CPU of process pid so far.
func procCPU(b *testing.B, pid int) time.Duration {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	s := string(raw)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / 100 // clock ticks (USER_HZ 100)
}

// procHWM is the peak resident set of process pid, in KiB.
func procHWM(b *testing.B, pid int) int64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for l := range strings.Lines(string(raw)) {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			n, _ := strconv.ParseInt(strings.Fields(v)[0], 10, 64)
			return n
		}
	}
	b.Fatal("no VmHWM in /proc/pid/status")
	return 0
}
