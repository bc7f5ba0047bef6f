package forward

import (
	"bufio"
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/capstan-agent/capstan/spool/protocol"
)

// keepBuffer is the largest frame buffer a connection keeps between frames.
const keepBuffer = 4 << 20

// session is one client connection. Its goroutine reads a frame, stores it,
// answers, and reads the next: frames of a connection are handled in order,
// so ACKs come in the order of the DATA frames.
type session struct {
	in    *Input
	conn  net.Conn
	log   *zap.Logger
	agent [16]byte
	out   []byte
	wmu   sync.Mutex // writes: the frame loop's and keepAlive's
}

var heartbeatFrame = protocol.AppendHeartbeat(nil)

// keepAlive sends a HEARTBEAT every interval until stopped, so a client
// waiting on an append that blocks (a full spool with when_full: block)
// knows the connection is alive.
func (s *session) keepAlive() (stop func()) {
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(s.in.cfg.Heartbeat)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				if s.write(heartbeatFrame) != nil {
					return
				}
			}
		}
	}()
	return func() {
		close(done)
		<-stopped
	}
}

func (in *Input) serve(ctx context.Context, c net.Conn) {
	s := &session{in: in, conn: c, log: in.log.With(zap.String("remote", c.RemoteAddr().String()))}
	if err := s.hello(ctx); err != nil {
		in.stats.Refused.Add(1)
		s.log.Warn("forward client refused", zap.Error(err))
		return
	}
	in.stats.Accepted.Add(1)
	s.log = s.log.With(zap.String("agent", fmt.Sprintf("%x", s.agent)))
	s.log.Info("forward client connected")
	err := s.loop(ctx)
	switch {
	case errors.Is(err, errShutdown):
		s.log.Info("forward client disconnected: input stopping")
	case err != nil:
		s.log.Warn("forward client disconnected", zap.Error(err))
	}
}

func (s *session) deadline() time.Time { return time.Now().Add(3 * s.in.cfg.Heartbeat) }

// hello reads the client hello and answers it; any error has been answered
// with a refusal already.
func (s *session) hello(ctx context.Context) error {
	cfg := &s.in.cfg
	s.conn.SetDeadline(s.deadline())
	if ctx.Err() != nil { // the deadline above may have overridden Run's wake-up
		return errShutdown
	}
	h, err := protocol.ReadClientHello(s.conn)
	var reason string
	switch {
	case errors.Is(err, protocol.ErrVersion):
		reason = fmt.Sprintf("protocol version %d not spoken; this server speaks %d", h.Version, protocol.Version)
	case errors.Is(err, protocol.ErrMagic):
		reason = "not a capstan forward client (bad magic)"
	case err != nil:
		reason = "bad hello: " + err.Error()
	case cfg.Token != "" && subtle.ConstantTimeCompare(h.Token, []byte(cfg.Token)) != 1:
		reason, err = "authentication failed", errors.New("bad token")
	}
	if reason != "" {
		s.write(protocol.AppendServerHello(nil, &protocol.ServerHello{Version: protocol.Version, Reason: reason}))
		return fmt.Errorf("%s: %w", reason, err)
	}
	s.agent = h.AgentID
	return s.write(protocol.AppendServerHello(nil, &protocol.ServerHello{
		Version: protocol.Version, Accepted: true,
		MaxFrame: uint32(cfg.MaxFrameBytes), Window: uint32(cfg.WindowBytes),
		Heartbeat: uint32(cfg.Heartbeat / time.Millisecond),
	}))
}

func (s *session) write(b []byte) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.conn.SetWriteDeadline(s.deadline())
	_, err := s.conn.Write(b)
	return err
}

// refuse sends an ERROR frame; the caller closes the connection.
func (s *session) refuse(code protocol.ErrorCode, err error) error {
	s.in.stats.BadFrames.Add(1)
	s.write(protocol.AppendError(s.out[:0], &protocol.ErrorFrame{Code: code, Message: err.Error()}))
	return err
}

func (s *session) loop(ctx context.Context) error {
	r := protocol.NewReader(bufio.NewReaderSize(s.conn, 64<<10), s.in.cfg.MaxFrameBytes)
	for {
		if ctx.Err() != nil {
			s.refuse(protocol.CodeShutdown, errShutdown)
			return errShutdown
		}
		s.conn.SetReadDeadline(s.deadline())
		if ctx.Err() != nil { // the deadline above may have overridden Run's wake-up
			continue
		}
		f, err := r.ReadFrame()
		switch {
		case err == nil:
		case ctx.Err() != nil && errors.Is(err, os.ErrDeadlineExceeded):
			s.refuse(protocol.CodeShutdown, errShutdown)
			return errShutdown
		case errors.Is(err, protocol.ErrTooLarge):
			return s.refuse(protocol.CodeTooLarge, err)
		case errors.Is(err, protocol.ErrMalformed):
			return s.refuse(protocol.CodeMalformed, err)
		default:
			return err
		}
		switch f.Type {
		case protocol.TypeData:
			if err := s.data(ctx, &f); err != nil {
				return err
			}
		case protocol.TypeHeartbeat:
			if err := s.write(protocol.AppendHeartbeat(s.out[:0])); err != nil {
				return err
			}
		case protocol.TypeError:
			return &f.Error
		default:
			return s.refuse(protocol.CodeUnexpected, fmt.Errorf("%s frame from a client", f.Type))
		}
		r.Release(keepBuffer)
	}
}

// data checks a DATA frame's batches, stores them with one append and
// acknowledges. A bad frame stores nothing.
func (s *session) data(ctx context.Context, f *protocol.Frame) error {
	src := source{agent: s.agent, stream: f.Data.Stream, partition: f.Data.Partition}
	batches, records, err := checkAndStamp(f.Payload, f.Data.First, f.Data.Last, src)
	if err != nil {
		return s.refuse(protocol.CodeBadBatch, fmt.Errorf("DATA %s/%d offsets %d..%d: %w",
			f.Data.Stream, f.Data.Partition, f.Data.First, f.Data.Last, err))
	}
	p := s.in.parts[src.target(len(s.in.parts))]
	stop := s.keepAlive()
	res, err := p.Append(ctx, f.Payload)
	stop()
	if err != nil {
		if ctx.Err() != nil {
			s.refuse(protocol.CodeShutdown, errShutdown)
			return errShutdown
		}
		return s.refuse(protocol.CodeInternal, fmt.Errorf("store DATA %s/%d: %w", f.Data.Stream, f.Data.Partition, err))
	}
	st := &s.in.stats
	st.Frames.Add(1)
	st.Batches.Add(uint64(batches))
	st.Records.Add(uint64(records))
	st.Bytes.Add(uint64(len(f.Payload)))
	st.Duplicates.Add(uint64(res.Duplicates))
	s.out = protocol.AppendAck(s.out[:0], &protocol.Ack{Stream: f.Data.Stream, Partition: f.Data.Partition, Last: f.Data.Last})
	return s.write(s.out)
}
