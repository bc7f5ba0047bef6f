package lines

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/capstan-agent/capstan/component"
	"github.com/capstan-agent/capstan/shipper/delivery"
	"github.com/capstan-agent/capstan/spool"
)

type writer interface{ Write([]byte) (int, error) }

// NewStdout returns an output writing lines to w (os.Stdout when nil). A
// write the pipe or terminal took is delivered. A closed standard output
// (EPIPE: the reader went away) makes the output degraded, retrying with
// backoff, and the process goes on: standard output and error are written
// through a duplicate of their descriptor, because Go turns EPIPE on
// descriptors 1 and 2 (only) into the end of the process.
func NewStdout(set component.Settings, cfg *StdoutConfig, w writer) (*delivery.Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if w == nil {
		w = os.Stdout
	}
	opts := delivery.Options{Config: cfg.Config, Concurrency: 1}
	return delivery.New(set, opts, encoder{format: cfg.Encoding}, &stdoutSender{w: w}), nil
}

type stdoutSender struct {
	w   writer
	dup *os.File // of w, when w is standard output or error
}

// Open duplicates the descriptor of standard output or error.
func (s *stdoutSender) Open(context.Context, component.OutputHost, map[spool.Key]uint64) error {
	f, ok := s.w.(*os.File)
	if !ok || f.Fd() > 2 {
		return nil
	}
	fd, err := unix.Dup(int(f.Fd()))
	if err != nil {
		return fmt.Errorf("duplicate %s: %w", f.Name(), err)
	}
	unix.CloseOnExec(fd)
	s.dup = os.NewFile(uintptr(fd), f.Name())
	return nil
}

// Close closes the duplicate.
func (s *stdoutSender) Close() error {
	if s.dup == nil {
		return nil
	}
	err := s.dup.Close()
	s.dup = nil
	return err
}

// Send writes the request whole. Writes to a pipe cannot be cancelled:
// one that blocks (nobody reads) holds the output until it returns.
func (s *stdoutSender) Send(_ context.Context, req *delivery.Request) delivery.Result {
	w := s.w
	if s.dup != nil {
		w = s.dup
	}
	if _, err := w.Write(req.Body); err != nil {
		if errors.Is(err, syscall.EPIPE) {
			return delivery.Retry("closed", fmt.Errorf("standard output is closed (EPIPE): nobody reads it"))
		}
		return delivery.Retry("write", err)
	}
	return delivery.Delivered()
}
