package file

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/capstan-agent/capstan/spool"
)

// The kill -9 test re-executes the test binary as a child that tails into a
// spool; TestMain turns into that child when this variable names a data dir.
const childEnv = "CAPSTAN_FILE_CHILD_DATA"

func TestMain(m *testing.M) {
	if dir := os.Getenv(childEnv); dir != "" {
		os.Exit(runChild(dir, os.Getenv("CAPSTAN_FILE_CHILD_INCLUDE")))
	}
	os.Exit(m.Run())
}

func runChild(dir, include string) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	sp, err := spool.Open(dir, spool.Options{Fsync: spool.FsyncNever})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 2
	}
	defer sp.Close()
	st, err := sp.Stream("logs", spool.StreamOptions{Partitions: 2})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 2
	}
	in, err := New(Config{
		Name: "files", Include: []string{include}, ScanInterval: 50 * time.Millisecond,
		PollInterval: 10 * time.Millisecond, PositionsInterval: 20 * time.Millisecond,
		ReadBufferBytes: 64 << 10, // small reads: many batches, many moments to die in
	}, SpoolTarget(sp, st, "files"), nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 2
	}
	if err := in.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	return 0
}

func startChild(t *testing.T, dir, include string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+dir, "CAPSTAN_FILE_CHILD_INCLUDE="+include)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd
}

// positionOf reads the child's positions file: the offset it has for path.
func positionOf(dir, path string) int64 {
	b, err := os.ReadFile(filepath.Join(dir, "positions", "files"))
	if err != nil {
		return -1
	}
	var p positions
	if json.Unmarshal(b, &p) != nil {
		return -1
	}
	for _, e := range p.Files {
		if e.Path == path {
			return e.Offset
		}
	}
	return -1
}

func TestKill9ExactlyOnce(t *testing.T) {
	data, logs := t.TempDir(), t.TempDir()
	path := filepath.Join(logs, "app.log")
	w, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	const total = 60000
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // the application: numbered lines, in bursts
		defer wg.Done()
		for i := 0; i < total; i += 500 {
			w.WriteString(numbered("n", i, i+500))
			time.Sleep(20 * time.Millisecond) // spans the kills below
		}
	}()
	if _, err := os.Stat(spoolPositionsDir(data)); err == nil {
		t.Fatal("fresh data dir expected")
	}
	rng := rand.New(rand.NewPCG(1, uint64(time.Now().UnixNano())))
	kills := 0
	for i := 0; i < 10; i++ {
		cmd := startChild(t, data, filepath.Join(logs, "*.log"))
		time.Sleep(time.Duration(20+rng.IntN(250)) * time.Millisecond)
		cmd.Process.Kill() // SIGKILL: no flush, no positions, a torn batch maybe
		cmd.Wait()
		kills++
	}
	wg.Wait()
	fi, _ := w.Stat()
	// A last run that catches up and stops gracefully.
	cmd := startChild(t, data, filepath.Join(logs, "*.log"))
	deadline := time.Now().Add(60 * time.Second)
	for positionOf(data, path) != fi.Size() {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("child did not catch up: at %d of %d", positionOf(data, path), fi.Size())
		}
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("child: %v", err)
	}
	sp, err := spool.Open(data, spool.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	st, err := sp.Stream("logs", spool.StreamOptions{Partitions: 2})
	if err != nil {
		t.Fatal(err)
	}
	recs := readRecords(t, st)
	checkExactlyOnce(t, recs, map[string]int{"n": total})
	t.Logf("%d kills, %d records exactly once in order", kills, len(recs))
}

func spoolPositionsDir(data string) string { return filepath.Join(data, "positions") }
