package testproc

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

func helper(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("testdata/helper")
	if err != nil {
		t.Fatal(err)
	}
	return Build(t, dir, ".")
}

func TestStartReadyLinesKill(t *testing.T) {
	var mu sync.Mutex
	var lines []string
	got2 := make(chan struct{})
	p := Start(t, Config{Name: "helper", Path: helper(t), Args: []string{"ready"}, OnLine: func(l string) {
		mu.Lock()
		defer mu.Unlock()
		lines = append(lines, l)
		if len(lines) == 2 {
			close(got2)
		}
	}})
	if p.Ready() != "ready at=here" {
		t.Errorf("ready line %q", p.Ready())
	}
	select {
	case <-got2:
	case <-time.After(30 * time.Second):
		t.Fatal("no lines after ready")
	}
	mu.Lock()
	if fmt.Sprint(lines) != "[line 1 line 2]" {
		t.Errorf("lines after ready %q (the ones before it are not passed on)", lines)
	}
	mu.Unlock()
	pid := p.PID()
	p.Kill()
	p.Kill() // a second time is harmless
	select {
	case <-p.Done():
	default:
		t.Error("Done not closed after Kill")
	}
	if _, err := os.Stat(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
		t.Errorf("process %d still there after Kill", pid)
	}
}

func TestStopEscalates(t *testing.T) {
	p := Start(t, Config{Name: "helper", Path: helper(t), Args: []string{"stubborn"}})
	err := p.Stop(200 * time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "did not exit within 200ms of SIGTERM; killed") {
		t.Errorf("Stop of a program that ignores SIGTERM: %v", err)
	}
	q := Start(t, Config{Name: "helper", Path: helper(t), Args: []string{"ready"}})
	if err := q.Stop(30 * time.Second); err == nil || !strings.Contains(err.Error(), "signal: terminated") {
		t.Errorf("Stop of a program that dies of SIGTERM: %v", err)
	}
}

// fatalTB records the first Fatalf and ends the goroutine, as testing does.
type fatalTB struct {
	testing.TB
	mu  sync.Mutex
	msg string
}

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.mu.Lock()
	f.msg = fmt.Sprintf(format, args...)
	f.mu.Unlock()
	runtime.Goexit()
}

func (f *fatalTB) Fatal(args ...any) { f.Fatalf("%s", fmt.Sprint(args...)) }

// startFails runs Start on a goroutine of its own and returns its failure.
func startFails(t *testing.T, cfg Config) string {
	t.Helper()
	f := &fatalTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		Start(f, cfg)
	}()
	<-done
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.msg
}

func TestStartFailures(t *testing.T) {
	bin := helper(t)
	cases := []struct {
		name string
		cfg  Config
		want []string
	}{
		{name: "exits", cfg: Config{Name: "helper", Path: bin, Args: []string{"exit"}},
			want: []string{"helper exited before it was ready (exit status 3)", "boom: no config"}},
		{name: "never ready", cfg: Config{Name: "helper", Path: bin, Args: []string{"silent"}, ReadyTimeout: 100 * time.Millisecond},
			want: []string{"helper printed no ready line within 100ms"}},
		{name: "no program", cfg: Config{Name: "helper", Path: filepath.Join(t.TempDir(), "none")},
			want: []string{"start helper (none)"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			msg := startFails(t, c.cfg)
			for _, w := range c.want {
				if !strings.Contains(msg, w) {
					t.Errorf("failure %q, want it to say %q", msg, w)
				}
			}
		})
	}
}

func TestBuildFailureSaysWhy(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module broken\n\ngo 1.26\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n\nfunc main() { undefined() }\n"), 0o644)
	_, err := build(dir, ".")
	if err == nil || !strings.Contains(err.Error(), "undefined: undefined") {
		t.Errorf("build of a broken program: %v", err)
	}
}
