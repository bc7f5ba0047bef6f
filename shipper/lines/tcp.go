package lines

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/capstan-agent/capstan/component"
	"github.com/capstan-agent/capstan/shipper/delivery"
	"github.com/capstan-agent/capstan/spool"
)

// NewTCP returns an output writing lines to a TCP peer, over TLS if
// configured, reconnecting forever. A request counts as delivered once the
// peer's TCP stack acknowledged its last byte (the socket's send queue,
// SIOCOUTQ, no longer holds it), and is committed at once; when a
// connection breaks, what was not acknowledged is written again on the
// next one. Lines the peer's kernel acknowledged but its process never read
// are lost if that process dies: plain TCP has no application
// acknowledgement (the forward protocol has).
func NewTCP(set component.Settings, cfg *TCPConfig) (*delivery.Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	opts := delivery.Options{Config: cfg.Config, Concurrency: cfg.Concurrency}
	enc := encoder{format: cfg.Encoding, octet: cfg.Framing == FramingOctetCounting}
	return delivery.NewStream(set, opts, enc, &tcpStream{cfg: *cfg}), nil
}

// tcpStream is the tcp output's stream: one connection at a time, requests
// written in order, acknowledged by the peer's kernel.
type tcpStream struct {
	cfg TCPConfig
	tls *tls.Config // loaded by Open

	conn    net.Conn     // written to: the TCP connection or TLS over it
	tcp     *net.TCPConn // under it, for the send queue
	written *countingConn
	pending []pendingRequest // written, not yet known acknowledged

	connected  atomic.Int64
	reconnects atomic.Uint64
}

type pendingRequest struct {
	req *delivery.Request
	end uint64 // bytes written on the connection after it
}

// countingConn counts the bytes written to the socket (with TLS: the
// records, headers included), which is what the send queue holds.
type countingConn struct {
	net.Conn
	n uint64
}

func (c *countingConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.n += uint64(n)
	return n, err
}

// Open loads the TLS files.
func (s *tcpStream) Open(context.Context, component.OutputHost, map[spool.Key]uint64) error {
	if s.cfg.TLS == nil {
		return nil
	}
	host, _, _ := net.SplitHostPort(s.cfg.Address)
	tc, err := s.cfg.TLS.Config(host)
	if err != nil {
		return err
	}
	s.tls = tc
	return nil
}

// Close closes the connection; the kernel still sends what it holds.
func (s *tcpStream) Close() error {
	if s.conn == nil {
		return nil
	}
	err := s.conn.Close()
	s.drop()
	return err
}

// Metrics reports the connection gauge and reconnects.
func (s *tcpStream) Metrics() []component.Metric {
	return []component.Metric{
		component.G("connections", s.connected.Load()),
		component.C("reconnects_total", s.reconnects.Load()),
	}
}

func (s *tcpStream) dial(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.ConnectTimeout)
	defer cancel()
	d := net.Dialer{}
	c, err := d.DialContext(ctx, "tcp", s.cfg.Address)
	if err != nil {
		return delivery.Failure("connect", err)
	}
	tcp := c.(*net.TCPConn)
	cc := &countingConn{Conn: tcp}
	var conn net.Conn = cc
	if s.tls != nil {
		tc := tls.Client(cc, s.tls)
		if err := tc.HandshakeContext(ctx); err != nil {
			tcp.Close()
			return delivery.Failure("tls", fmt.Errorf("tls handshake with %s: %w", s.cfg.Address, err))
		}
		conn = tc
	}
	s.conn, s.tcp, s.written = conn, tcp, cc
	s.connected.Store(1)
	return nil
}

// Write writes req after what was written before, connecting if needed.
func (s *tcpStream) Write(ctx context.Context, req *delivery.Request) error {
	if s.conn == nil {
		if err := s.dial(ctx); err != nil {
			return err
		}
	}
	if s.cfg.Timeout > 0 {
		s.conn.SetWriteDeadline(time.Now().Add(s.cfg.Timeout))
	}
	stop := context.AfterFunc(ctx, func() { s.conn.SetWriteDeadline(time.Now()) })
	_, err := s.conn.Write(req.Body)
	stop()
	if err != nil {
		s.broken()
		return delivery.Failure("connection", fmt.Errorf("write to %s: %w", s.cfg.Address, err))
	}
	s.pending = append(s.pending, pendingRequest{req: req, end: s.written.n})
	return nil
}

// Acked waits until the peer's kernel acknowledged req, polling the send
// queue (nothing signals it). It waits as long as the rest of the request
// takes at the rate the queue drained so far (20 µs to 2 ms), so that a
// request costs a few polls, not one per 20 µs.
func (s *tcpStream) Acked(ctx context.Context, req *delivery.Request) error {
	if s.conn == nil || len(s.pending) == 0 || s.pending[0].req != req {
		return delivery.Failure("connection", errors.New("request not on the connection"))
	}
	end := s.pending[0].end
	var t *time.Timer
	last, since := uint64(0), time.Now()
	wait := minAckPoll
	for {
		acked, err := s.acked()
		if err != nil {
			s.broken()
			return delivery.Failure("connection", err)
		}
		if acked >= end {
			s.pending[0] = pendingRequest{}
			s.pending = s.pending[1:]
			return nil
		}
		now := time.Now()
		switch {
		case acked > last && last > 0:
			rate := float64(acked-last) / float64(now.Sub(since)) // bytes per ns
			wait = time.Duration(float64(end-acked) / rate)
			last, since = acked, now
		case acked > last:
			last, since = acked, now
		case s.cfg.Timeout > 0 && now.Sub(since) > s.cfg.Timeout:
			s.broken()
			return delivery.Failure("timeout", fmt.Errorf("%s acknowledged nothing for %s", s.cfg.Address, s.cfg.Timeout))
		default:
			wait *= 2
		}
		wait = min(max(wait, minAckPoll), maxAckPoll)
		if t == nil {
			t = time.NewTimer(wait)
			defer t.Stop()
		} else {
			t.Reset(wait)
		}
		select {
		case <-t.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Bounds of the wait between two looks at the send queue.
const (
	minAckPoll = 20 * time.Microsecond
	maxAckPoll = 2 * time.Millisecond
)

// acked is how many bytes written on the connection the peer's kernel
// acknowledged. A reset connection purges its send queue, so the queue
// only counts while the connection is established (or half-closed by the
// peer); a broken one is an error.
func (s *tcpStream) acked() (uint64, error) {
	raw, err := s.tcp.SyscallConn()
	if err != nil {
		return 0, err
	}
	var outq int
	var info *unix.TCPInfo
	var ierr error
	if err := raw.Control(func(fd uintptr) {
		if info, ierr = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO); ierr == nil {
			outq, ierr = unix.IoctlGetInt(int(fd), unix.SIOCOUTQ)
		}
	}); err != nil {
		return 0, err
	}
	if ierr != nil {
		return 0, fmt.Errorf("tcp send queue: %w", ierr)
	}
	if info.State != tcpEstablished && info.State != tcpCloseWait {
		return 0, fmt.Errorf("connection to %s broken (tcp state %d)", s.cfg.Address, info.State)
	}
	return s.written.n - uint64(outq), nil
}

// TCP states from linux/tcp_states.h.
const (
	tcpEstablished = 1
	tcpCloseWait   = 8
)

// broken closes a broken connection: what it held goes again.
func (s *tcpStream) broken() {
	s.conn.Close()
	s.drop()
	s.reconnects.Add(1)
}

func (s *tcpStream) drop() {
	s.conn, s.tcp, s.written = nil, nil, nil
	clear(s.pending)
	s.pending = s.pending[:0]
	s.connected.Store(0)
}
