package lines

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/capstan-agent/capstan/component"
	"golang.org/x/sys/unix"
)

type writer interface{ Write([]byte) (int, error) }

// NewStdout returns an output writing lines to w (os.Stdout when nil).
func NewStdout(set component.Settings, cfg *StdoutConfig, w writer) (*Output, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if w == nil {
		w = os.Stdout
	}
	return newOutput("stdout", set, cfg.Encoding, func() (sink, error) { return &writerSink{w: w}, nil }), nil
}

type writerSink struct{ w writer }

func (s *writerSink) write(_ context.Context, b []byte, delivered func()) error {
	if _, err := s.w.Write(b); err != nil {
		return err
	}
	delivered()
	return nil
}
func (s *writerSink) sync() error  { return nil }
func (s *writerSink) close() error { return nil }

// NewTCP returns an output writing lines to a TCP peer, reconnecting forever.
// Lines count as delivered once the peer's TCP stack acknowledged them (the
// socket's send queue, SIOCOUTQ, no longer holds them); when a connection
// breaks, what was not delivered is written again on the next one. Lines the
// peer's kernel acknowledged but its process never read are lost if that
// process dies: plain TCP has no application acknowledgement (the forward
// protocol has).
func NewTCP(set component.Settings, cfg *TCPConfig) (component.Output, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := *cfg
	return newOutput("tcp", set, c.Encoding, func() (sink, error) { return &tcpSink{cfg: c}, nil }), nil
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
		d := net.Dialer{Timeout: s.cfg.ConnectTimeout}
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

// NewFile returns an output appending lines to a file, rotated by size.
// Written lines are fsynced before their offsets are committed. The file is
// opened when the output runs.
func NewFile(set component.Settings, cfg *FileConfig) (component.Output, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := *cfg
	return newOutput("file", set, c.Encoding, func() (sink, error) {
		s := &fileSink{cfg: c}
		if err := s.open(); err != nil {
			return nil, fmt.Errorf("path: %w", err)
		}
		return s, nil
	}), nil
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
		if s.size+int64(n) > int64(s.cfg.MaxBytes) {
			room := max(int64(s.cfg.MaxBytes)-s.size, 0)
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
