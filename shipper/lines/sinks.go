package lines

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/capstan-agent/capstan/spool"
	"golang.org/x/sys/unix"
)

// StdoutConfig configures the stdout output.
type StdoutConfig struct {
	Common `koanf:",squash"`
}

// NewStdout returns an output writing lines to w (os.Stdout when nil).
func NewStdout(cfg StdoutConfig, sp Spool, streams []*spool.Stream, w io.Writer, log *zap.Logger) (*Output, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("stdout output %s: %w", cfg.Name, err)
	}
	if w == nil {
		w = os.Stdout
	}
	return newOutput("stdout", cfg.Common, sp.Checkpoints(), streams, &writerSink{w: w}, log)
}

// Spool is what line outputs need of the spool; *spool.Spool is one.
type Spool interface {
	Checkpoints() *spool.Checkpoints
}

type writerSink struct{ w io.Writer }

func (s *writerSink) write(_ context.Context, b []byte, delivered func()) error {
	if _, err := s.w.Write(b); err != nil {
		return err
	}
	delivered()
	return nil
}
func (s *writerSink) sync() error  { return nil }
func (s *writerSink) close() error { return nil }

// TCPConfig configures the tcp output: newline-delimited lines to a peer.
type TCPConfig struct {
	Common `koanf:",squash"`
	// Address of the peer, host:port.
	Address string `koanf:"address"`
	// DialTimeout bounds a connect; default 5s.
	DialTimeout time.Duration `koanf:"dial_timeout"`
}

// NewTCP returns an output writing lines to a TCP peer, reconnecting forever.
// Lines count as delivered once the peer's TCP stack acknowledged them (the
// socket's send queue, SIOCOUTQ, no longer holds them); when a connection
// breaks, what was not delivered is written again on the next one. Lines the
// peer's kernel acknowledged but its process never read are lost if that
// process dies: plain TCP has no application acknowledgement (the forward
// protocol has).
func NewTCP(cfg TCPConfig, sp Spool, streams []*spool.Stream, log *zap.Logger) (*Output, error) {
	err := cfg.validate()
	if _, _, perr := net.SplitHostPort(cfg.Address); perr != nil {
		err = errors.Join(err, fmt.Errorf("address %q: want host:port", cfg.Address))
	}
	if err != nil {
		return nil, fmt.Errorf("tcp output %s: %w", cfg.Name, err)
	}
	if cfg.DialTimeout == 0 {
		cfg.DialTimeout = 5 * time.Second
	}
	return newOutput("tcp", cfg.Common, sp.Checkpoints(), streams, &tcpSink{cfg: cfg}, log)
}

type tcpSink struct {
	cfg     TCPConfig
	conn    *net.TCPConn
	written uint64 // bytes written on conn
	pending []pendingLines
	lost    func()
}

// pendingLines are written lines not yet acknowledged by the peer's stack.
type pendingLines struct {
	end       uint64 // conn's written count after them
	delivered func()
}

func (s *tcpSink) write(ctx context.Context, b []byte, delivered func()) error {
	if s.conn == nil {
		d := net.Dialer{Timeout: s.cfg.DialTimeout}
		c, err := d.DialContext(ctx, "tcp", s.cfg.Address)
		if err != nil {
			return err
		}
		s.conn, s.written = c.(*net.TCPConn), 0
	}
	stop := context.AfterFunc(ctx, func() { s.conn.SetWriteDeadline(time.Now()) })
	defer stop()
	if _, err := s.conn.Write(b); err != nil {
		s.drop()
		return err
	}
	s.written += uint64(len(b))
	s.pending = append(s.pending, pendingLines{end: s.written, delivered: delivered})
	return s.check()
}

// check reports as delivered the lines that left the socket's send queue.
// A reset connection purges that queue, so the queue only counts while the
// connection is established (or half-closed by the peer); a broken one loses
// its pending lines.
func (s *tcpSink) check() error {
	if len(s.pending) == 0 {
		return nil
	}
	raw, err := s.conn.SyscallConn()
	if err != nil {
		return err
	}
	var outq int
	var info *unix.TCPInfo
	var ierr error
	if err := raw.Control(func(fd uintptr) {
		if info, ierr = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO); ierr == nil {
			outq, ierr = unix.IoctlGetInt(int(fd), unix.SIOCOUTQ)
		}
	}); err != nil {
		return err
	}
	if ierr != nil {
		return fmt.Errorf("tcp send queue: %w", ierr)
	}
	if info.State != tcpEstablished && info.State != tcpCloseWait {
		s.drop()
		return fmt.Errorf("connection to %s broken (tcp state %d)", s.cfg.Address, info.State)
	}
	acked := s.written - uint64(outq)
	i := 0
	for ; i < len(s.pending) && s.pending[i].end <= acked; i++ {
		s.pending[i].delivered()
		s.pending[i] = pendingLines{}
	}
	s.pending = s.pending[i:]
	return nil
}

// TCP states from linux/tcp_states.h.
const (
	tcpEstablished = 1
	tcpCloseWait   = 8
)

// drop closes a broken connection; undelivered lines are lost with it and
// go again.
func (s *tcpSink) drop() {
	s.conn.Close()
	s.conn = nil
	if len(s.pending) > 0 {
		s.pending = s.pending[:0]
		if s.lost != nil {
			s.lost()
		}
	}
}

func (s *tcpSink) sync() error {
	if s.conn == nil {
		return nil
	}
	return s.check()
}

func (s *tcpSink) close() error {
	if s.conn == nil {
		return nil
	}
	s.check()
	err := s.conn.Close()
	s.conn = nil
	return err
}

// FileConfig configures the file output.
type FileConfig struct {
	Common `koanf:",squash"`
	// Path of the file written; rotated files are Path.1 (newest) .. Path.N.
	Path string `koanf:"path"`
	// MaxBytes rotates the file before a write would take it past this
	// size; default 100 MiB.
	MaxBytes int64 `koanf:"max_bytes"`
	// MaxFiles is how many rotated files are kept; default 5.
	MaxFiles int `koanf:"max_files"`
}

// NewFile returns an output appending lines to a file, rotated by size.
// Written lines are fsynced before their offsets are committed.
func NewFile(cfg FileConfig, sp Spool, streams []*spool.Stream, log *zap.Logger) (*Output, error) {
	if cfg.MaxBytes == 0 {
		cfg.MaxBytes = 100 << 20
	}
	if cfg.MaxFiles == 0 {
		cfg.MaxFiles = 5
	}
	err := cfg.validate()
	if cfg.Path == "" {
		err = errors.Join(err, errors.New("path: required"))
	}
	if cfg.MaxBytes < 1 || cfg.MaxFiles < 1 {
		err = errors.Join(err, fmt.Errorf("max_bytes %d, max_files %d: want positive", cfg.MaxBytes, cfg.MaxFiles))
	}
	if err != nil {
		return nil, fmt.Errorf("file output %s: %w", cfg.Name, err)
	}
	s := &fileSink{cfg: cfg}
	if err := s.open(); err != nil {
		return nil, fmt.Errorf("file output %s: %w", cfg.Name, err)
	}
	return newOutput("file", cfg.Common, sp.Checkpoints(), streams, s, log)
}

type fileSink struct {
	cfg  FileConfig
	f    *os.File
	size int64
}

func (s *fileSink) open() error {
	f, err := os.OpenFile(s.cfg.Path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	s.f, s.size = f, st.Size()
	return nil
}

func (s *fileSink) write(_ context.Context, b []byte, delivered func()) error {
	if s.f == nil {
		if err := s.open(); err != nil {
			return err
		}
	}
	start := s.size
	for len(b) > 0 {
		// Write the lines that fit; a file holds at least one line.
		n := len(b)
		if s.size+int64(n) > s.cfg.MaxBytes {
			room := max(s.cfg.MaxBytes-s.size, 0)
			n = bytes.LastIndexByte(b[:room], '\n') + 1
			if n == 0 && s.size == 0 {
				n = bytes.IndexByte(b, '\n') + 1
			}
		}
		if n == 0 {
			if err := s.rotate(); err != nil {
				return fmt.Errorf("rotate %s: %w", s.cfg.Path, err)
			}
			start = 0
			continue
		}
		w, err := s.f.Write(b[:n])
		s.size += int64(w)
		if err != nil {
			// Cut what was written of these lines in this file: they go again whole.
			s.f.Truncate(start)
			s.size = start
			return err
		}
		b = b[n:]
	}
	delivered() // durable at the next sync, which precedes every commit
	return nil
}

// rotate syncs and closes the file, shifts Path.i to Path.i+1 (dropping the
// oldest), renames Path to Path.1 and opens a new Path.
func (s *fileSink) rotate() error {
	if err := s.f.Sync(); err != nil {
		return err
	}
	s.f.Close()
	s.f = nil
	name := func(i int) string { return s.cfg.Path + "." + strconv.Itoa(i) }
	os.Remove(name(s.cfg.MaxFiles))
	for i := s.cfg.MaxFiles - 1; i >= 1; i-- {
		if err := os.Rename(name(i), name(i+1)); err != nil && !os.IsNotExist(err) {
			return err
		}
	}
	if err := os.Rename(s.cfg.Path, name(1)); err != nil {
		return err
	}
	if d, err := os.Open(filepath.Dir(s.cfg.Path)); err == nil {
		d.Sync()
		d.Close()
	}
	return s.open()
}

func (s *fileSink) sync() error {
	if s.f == nil {
		return nil
	}
	return s.f.Sync()
}

func (s *fileSink) close() error {
	if s.f == nil {
		return nil
	}
	err := s.f.Sync()
	if cerr := s.f.Close(); err == nil {
		err = cerr
	}
	s.f = nil
	return err
}
