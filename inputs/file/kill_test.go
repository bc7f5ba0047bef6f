package file

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
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
		os.Exit(runChild(dir, os.Getenv("CAPSTAN_FILE_CHILD_INCLUDE"), os.Getenv("CAPSTAN_FILE_CHILD_FORMAT")))
	}
	os.Exit(m.Run())
}

func runChild(dir, include, format string) int {
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
		Name: "files", StartAt: "beginning", Include: []string{include}, Format: format, ScanInterval: 50 * time.Millisecond,
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

func startChild(t *testing.T, dir, include, format string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+dir, "CAPSTAN_FILE_CHILD_INCLUDE="+include,
		"CAPSTAN_FILE_CHILD_FORMAT="+format)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd
}

func TestKill9ExactlyOnce(t *testing.T) {
	for _, rot := range []string{"none", "rename", "copytruncate", "cri-partials"} {
		t.Run(rot, func(t *testing.T) { kill9(t, rot) })
	}
}

// kill9 grows a file (rotating it every 10,000 lines as rot says) while a
// child tails it into a spool and is SIGKILLed at random moments; then it
// lets a last child catch up and checks every line is in the spool once.
func kill9(t *testing.T, rot string) {
	data, logs := t.TempDir(), t.TempDir()
	path := filepath.Join(logs, "app.log")
	include := filepath.Join(logs, "app.log*")
	const total = 60000
	format, lines := "raw", numbered
	if rot == "cri-partials" {
		// Every line split in two by the runtime: the decoder holds the
		// first half, and positions must not pass it.
		format, lines = "cri", func(p string, from, to int) string {
			// Each burst ends with the first half of a line, completed by
			// the next burst: most kills find a half line held.
			var b strings.Builder
			for i := from; i < to; i++ {
				if i > 0 {
					fmt.Fprintf(&b, "2024-01-02T03:04:05Z stdout F %d\n", i-1)
				}
				fmt.Fprintf(&b, "2024-01-02T03:04:05Z stdout P %s-\n", p)
			}
			if to == total {
				fmt.Fprintf(&b, "2024-01-02T03:04:05Z stdout F %d\n", to-1)
			}
			return b.String()
		}
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // the application: numbered lines, in bursts, rotated
		defer wg.Done()
		w, _ := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		for i := 0; i < total; i += 500 {
			if i > 0 && i%10000 == 0 {
				rotated := fmt.Sprintf("%s.%d", path, i/10000)
				switch rot {
				case "rename":
					w.Close()
					os.Rename(path, rotated)
					w, _ = os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
				case "copytruncate":
					b, _ := os.ReadFile(path)
					os.WriteFile(rotated, b, 0o644)
					w.Truncate(0)
				}
			}
			w.WriteString(lines("n", i, i+500))
			time.Sleep(20 * time.Millisecond) // spans the kills below
		}
		w.Close()
	}()
	rng := rand.New(rand.NewPCG(1, uint64(time.Now().UnixNano())))
	for i := 0; i < 10; i++ {
		cmd := startChild(t, data, include, format)
		time.Sleep(time.Duration(20+rng.IntN(250)) * time.Millisecond)
		cmd.Process.Kill() // SIGKILL: no flush, no positions, a torn batch maybe
		cmd.Wait()
	}
	wg.Wait()
	// Last runs, stopped gracefully, until everything is there.
	deadline := time.Now().Add(60 * time.Second)
	for {
		cmd := startChild(t, data, include, format)
		time.Sleep(300 * time.Millisecond)
		cmd.Process.Signal(syscall.SIGTERM)
		if err := cmd.Wait(); err != nil {
			// A child still starting has no handler yet and dies of the
			// signal, which is one more kill; any other exit is a failure.
			if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGTERM {
				t.Fatalf("child: %v", err)
			}
		}
		recs := spooled(t, data)
		if len(recs) >= total || time.Now().After(deadline) {
			checkSet(t, recs, "n", total)
			if rot == "none" || rot == "cri-partials" {
				checkExactlyOnce(t, recs, map[string]int{"n": total})
			}
			t.Logf("%s: %d records, each once", rot, len(recs))
			return
		}
	}
}

func spooled(t *testing.T, data string) []rec {
	sp, err := spool.Open(data, spool.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	st, err := sp.Stream("logs", spool.StreamOptions{Partitions: 2})
	if err != nil {
		t.Fatal(err)
	}
	return readRecords(t, st)
}
