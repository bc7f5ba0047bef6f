package spool

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The crash test runs the appender in a child process (this test binary, run
// again with crashChildEnv set) and kills it with SIGKILL at a random moment.
// The child prints "ack <partition> <sequence>" after every Append that
// returned, so the parent knows what the spool promised.
const crashChildEnv = "CAPSTAN_SPOOL_CRASH_CHILD"

var crashOpts = Options{SegmentBytes: 32 << 10, IndexInterval: 4 << 10, Fsync: FsyncNever}

const crashPartitions = 2

func TestMain(m *testing.M) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		crashChild(dir)
		return
	}
	os.Exit(m.Run())
}

// crashChild appends batches to every partition, each partition from its own
// goroutine, continuing the sequence its partition already holds, and commits
// a checkpoint now and then. It runs until it is killed.
func crashChild(dir string) {
	s, err := Open(dir, crashOpts)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child open:", err)
		os.Exit(2)
	}
	st, err := s.Stream("crash", StreamOptions{Partitions: crashPartitions})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child stream:", err)
		os.Exit(2)
	}
	if _, err := s.Checkpoints().Register("out"); err != nil {
		fmt.Fprintln(os.Stderr, "child register:", err)
		os.Exit(2)
	}
	var mu sync.Mutex
	out := bufio.NewWriter(os.Stdout)
	for _, p := range st.Partitions() {
		go func() {
			producer := uint64(p.ID() + 1)
			seq, _ := p.Sequence(producer)
			for {
				seq++
				n := 1 + int(seq%7)
				if _, err := p.Append(context.Background(), mkBatch(producer, seq, n, "crash")); err != nil {
					fmt.Fprintln(os.Stderr, "child append:", err)
					os.Exit(2)
				}
				mu.Lock()
				fmt.Fprintf(out, "ack %d %d\n", p.ID(), seq)
				out.Flush()
				mu.Unlock()
				if seq%50 == 0 {
					err := s.Checkpoints().Commit("out", map[Key]uint64{{"crash", p.ID()}: p.NextOffset() / 2})
					if err != nil {
						fmt.Fprintln(os.Stderr, "child commit:", err)
						os.Exit(2)
					}
				}
			}
		}()
	}
	select {}
}

func TestKilledAppenderLosesNothingAcknowledged(t *testing.T) {
	if testing.Short() {
		t.Skip("runs child processes")
	}
	rounds := 8
	if os.Getenv("CAPSTAN_SOAK") != "" {
		rounds = 100
	}
	dir := t.TempDir()
	acked := make([]uint64, crashPartitions) // highest acknowledged sequence
	for round := 0; round < rounds; round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
		cmd.Stderr = os.Stderr
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				f := strings.Fields(sc.Text())
				if len(f) != 3 || f[0] != "ack" {
					continue
				}
				part, _ := strconv.Atoi(f[1])
				seq, _ := strconv.ParseUint(f[2], 10, 64)
				if seq > acked[part] {
					acked[part] = seq
				}
			}
		}()
		time.Sleep(time.Duration(20+rand.IntN(200)) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		<-done
		err = cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
			t.Fatalf("round %d: child did not die by SIGKILL: %v", round, err)
		}
		checkCrashSpool(t, dir, round, acked)
	}
	t.Logf("after %d kills: acknowledged sequences %v", rounds, acked)
}

// checkCrashSpool reopens the spool the child left and checks every partition:
// each acknowledged batch is there, every batch decodes, no record is there
// twice, and the checkpoint file reads.
func checkCrashSpool(t *testing.T, dir string, round int, acked []uint64) {
	t.Helper()
	s, err := Open(dir, crashOpts)
	if err != nil {
		t.Fatalf("round %d: reopen: %v", round, err)
	}
	defer s.Close()
	st, err := s.Stream("crash", StreamOptions{Partitions: crashPartitions})
	if err != nil {
		t.Fatalf("round %d: stream: %v", round, err)
	}
	if _, err := s.Checkpoints().Load("out"); err != nil {
		t.Fatalf("round %d: checkpoint: %v", round, err)
	}
	for _, p := range st.Partitions() {
		got, bad, skipped := readAll(t, p, 0)
		if bad+skipped != 0 {
			t.Fatalf("round %d partition %d: %d bad batches, %d skips", round, p.ID(), bad, skipped)
		}
		if uint64(len(got)) != p.NextOffset() {
			t.Fatalf("round %d partition %d: %d records for %d offsets", round, p.ID(), len(got), p.NextOffset())
		}
		seen := map[string]bool{}
		var maxSeq uint64
		for _, body := range got {
			if seen[body] {
				t.Fatalf("round %d partition %d: %q stored twice", round, p.ID(), body)
			}
			seen[body] = true
			var seq uint64
			var i int
			fmt.Sscanf(body, "crash-%d-%d", &seq, &i)
			maxSeq = max(maxSeq, seq)
		}
		if maxSeq < acked[p.ID()] {
			t.Fatalf("round %d partition %d: acknowledged batch %d lost (spool ends at %d)", round, p.ID(), acked[p.ID()], maxSeq)
		}
		// A killed process loses nothing it wrote: no holes either.
		for seq := uint64(1); seq <= maxSeq; seq++ {
			for i := 0; i < 1+int(seq%7); i++ {
				if !seen[fmt.Sprintf("crash-%d-%d", seq, i)] {
					t.Fatalf("round %d partition %d: record %d of batch %d lost", round, p.ID(), i, seq)
				}
			}
		}
		if stored, _ := p.Sequence(uint64(p.ID() + 1)); stored != maxSeq {
			t.Fatalf("round %d partition %d: producer table says %d, data says %d", round, p.ID(), stored, maxSeq)
		}
	}
}

// TestReopenReadsOnlyTheTail counts the bytes opening a spool of many segments
// reads: the active segment from its last index entry, index and producer
// snapshot, but nothing of the sealed segments.
func TestReopenReadsOnlyTheTail(t *testing.T) {
	dir := t.TempDir()
	opts := Options{SegmentBytes: 64 << 10, IndexInterval: 4 << 10}
	s := openTest(t, dir, opts)
	p := mustStream(t, s, "logs", StreamOptions{}).Partition(0)
	for i := 0; p.Stats().Segments < 40 || p.active().size.Load() < 40<<10; i++ {
		mustAppend(t, p, mkBatch(uint64(1+i%5), uint64(i), 20, "tail"))
	}
	total := p.Stats().Bytes
	s.Close()

	s2 := openTest(t, dir, opts)
	st := mustStream(t, s2, "logs", StreamOptions{}).Partition(0).Stats()
	// Bound: one index interval of batches (the scan starts at the last index
	// entry) plus the largest batch, the index file and the snapshot.
	bound := opts.IndexInterval + 4<<10 + 64<<10/opts.IndexInterval*indexEntrySize + 4<<10
	t.Logf("spool of %d bytes in %d segments: reopen read %d bytes", total, st.Segments, st.RecoveryBytesRead)
	if st.RecoveryBytesRead > bound {
		t.Fatalf("reopen read %d bytes of a %d byte spool, want at most %d", st.RecoveryBytesRead, total, bound)
	}
	if st.RecoveryBytesRead == 0 {
		t.Fatal("reopen read nothing: the count is not being kept")
	}
}
