package testproc

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Config says how to run a helper program.
type Config struct {
	// Name names the program in failure messages ("otlp receiver").
	Name string
	// Path and Args are the executable and its arguments.
	Path string
	Args []string
	// ReadyTimeout bounds the wait for the "ready" line (default 30s).
	ReadyTimeout time.Duration
	// OnLine, if set, is called from the reading goroutine with each line the
	// program prints on standard output after its "ready" line.
	OnLine func(line string)
}

// Proc is a running helper program.
type Proc struct {
	cfg    Config
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stderr string // path of the file its standard error goes to
	ready  string
	done   chan struct{} // closed when its standard output ends (it exited)

	killOnce sync.Once
	waitErr  error
}

// Start runs the program, waits for a line starting with "ready" on its
// standard output and returns. The program's standard input stays open until
// Kill: the helper programs exit when it closes, so none outlives a test binary
// that died. The process is killed by its PID when the test ends.
func Start(t testing.TB, cfg Config) *Proc {
	t.Helper()
	if cfg.ReadyTimeout == 0 {
		cfg.ReadyTimeout = 30 * time.Second
	}
	p := &Proc{cfg: cfg, done: make(chan struct{})}
	stderr, err := os.CreateTemp(t.TempDir(), "stderr-*")
	if err != nil {
		t.Fatalf("%s: stderr file: %v", cfg.Name, err)
	}
	defer stderr.Close()
	p.stderr = stderr.Name()

	p.cmd = exec.Command(cfg.Path, cfg.Args...)
	p.cmd.Stderr = stderr
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		t.Fatalf("%s: stdin pipe: %v", cfg.Name, err)
	}
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatalf("%s: stdout pipe: %v", cfg.Name, err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s (%s): %v", cfg.Name, filepath.Base(cfg.Path), err)
	}
	t.Cleanup(p.Kill)

	readyCh := make(chan string, 1)
	go p.read(stdout, readyCh)
	select {
	case line := <-readyCh:
		p.ready = line
	case <-p.done:
		p.Kill()
		t.Fatalf("%s exited before it was ready (%v); stderr:\n%s", cfg.Name, p.waitErr, p.Stderr())
	case <-time.After(cfg.ReadyTimeout):
		p.Kill()
		t.Fatalf("%s printed no ready line within %v; stderr:\n%s", cfg.Name, cfg.ReadyTimeout, p.Stderr())
	}
	return p
}

// read owns the program's standard output until it ends.
func (p *Proc) read(stdout io.Reader, readyCh chan<- string) {
	defer close(p.done)
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	ready := false
	for sc.Scan() {
		line := sc.Text()
		switch {
		case !ready && strings.HasPrefix(line, "ready"):
			ready = true
			readyCh <- line
		case ready && p.cfg.OnLine != nil:
			p.cfg.OnLine(line)
		}
	}
	// The pipe ends when the process is gone; drain whatever is left so the
	// process never blocks on a full pipe before it dies.
	_, _ = io.Copy(io.Discard, stdout)
}

// Ready returns the program's ready line.
func (p *Proc) Ready() string { return p.ready }

// PID returns the process id.
func (p *Proc) PID() int { return p.cmd.Process.Pid }

// Done is closed when the program has exited (its standard output ended).
func (p *Proc) Done() <-chan struct{} { return p.done }

// Stderr returns what the program wrote to standard error so far.
func (p *Proc) Stderr() string {
	b, err := os.ReadFile(p.stderr)
	if err != nil {
		return fmt.Sprintf("(stderr unreadable: %v)", err)
	}
	return string(b)
}

// Stop sends SIGTERM and waits up to timeout for the program to exit, then
// kills it. It returns the program's exit error (nil for a clean exit), or an
// error saying it had to be killed.
func (p *Proc) Stop(timeout time.Duration) error {
	if err := syscall.Kill(p.cmd.Process.Pid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("%s: SIGTERM %d: %w", p.cfg.Name, p.cmd.Process.Pid, err)
	}
	select {
	case <-p.done:
		p.Kill()
		return p.waitErr
	case <-time.After(timeout):
		p.Kill()
		return fmt.Errorf("%s did not exit within %v of SIGTERM; killed", p.cfg.Name, timeout)
	}
}

// Kill sends SIGKILL to the process by its PID and waits for it to be gone.
// It is safe to call more than once.
func (p *Proc) Kill() {
	p.killOnce.Do(func() {
		if err := syscall.Kill(p.cmd.Process.Pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			p.waitErr = fmt.Errorf("kill %d: %w", p.cmd.Process.Pid, err)
		}
		p.stdin.Close()
		<-p.done
		if err := p.cmd.Wait(); p.waitErr == nil {
			p.waitErr = err
		}
	})
}
