package forward

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/capstan-agent/capstan/shipper"
	"github.com/capstan-agent/capstan/spool"
	"github.com/capstan-agent/capstan/spool/batch"
	"github.com/capstan-agent/capstan/spool/protocol"
)

// session is one connection to one endpoint. Each of its partitions has a
// sender goroutine; frames are written under a mutex and remembered in a
// FIFO, which the reader pops as ACKs arrive in the same order.
type session struct {
	out        *Output
	endpoint   string
	cursors    []*shipper.Cursor
	log        *zap.Logger
	progressed bool // a frame was acknowledged: the peer works
	verify     bool // check every batch before sending: the peer found a bad one

	conn      net.Conn
	sf        *sendfileConn // nil: buffered path
	limits    protocol.ServerHello
	writeMu   sync.Mutex
	lastWrite atomic.Int64 // unix nanos

	mu      sync.Mutex
	fifo    []inflight
	bytes   int64         // payload bytes in flight
	changed chan struct{} // closed and replaced when fifo shrinks
}

type inflight struct {
	cursor *shipper.Cursor
	last   uint64
	next   uint64
	bytes  int64
}

func (s *session) run(ctx context.Context) error {
	if err := s.connect(ctx); err != nil {
		return err
	}
	defer s.conn.Close()
	o := s.out
	o.stats.Connected.Add(1)
	defer o.stats.Connected.Add(-1)
	o.connected()
	s.log.Info("forward connection up", zap.Bool("sendfile", s.sf != nil),
		zap.Uint32("max_frame", s.limits.MaxFrame), zap.Uint32("window", s.limits.Window))
	for _, c := range s.cursors {
		c.Rewind() // what was in flight on the last connection goes again
	}
	s.changed = make(chan struct{})

	// sendCtx stops the senders: on error, or when ctx ends. The reader runs
	// on until the frames in flight are acknowledged (bounded by DrainTimeout).
	sendCtx, stopSend := context.WithCancelCause(ctx)
	defer stopSend(nil)
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		stopSend(s.read())
	}()
	var wg sync.WaitGroup
	for _, c := range s.cursors {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.sendLoop(sendCtx, c); err != nil && sendCtx.Err() == nil {
				stopSend(err)
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.heartbeats(sendCtx)
	}()
	wg.Wait()
	err := context.Cause(sendCtx)
	if ctx.Err() != nil {
		err = ctx.Err()
		s.drain(readDone)
	}
	s.conn.Close()
	<-readDone
	s.mu.Lock()
	o.stats.InFlight.Add(-s.bytes)
	s.mu.Unlock()
	return err
}

// connect dials, exchanges hellos and checks the server's limits.
func (s *session) connect(ctx context.Context) error {
	o := s.out
	d := net.Dialer{Timeout: o.cfg.DialTimeout, KeepAlive: 30 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", s.endpoint)
	if err != nil {
		return err
	}
	if o.tls != nil {
		tc := o.tls
		if tc.ServerName == "" {
			tc = tc.Clone()
			tc.ServerName, _, _ = net.SplitHostPort(s.endpoint)
		}
		conn = tls.Client(conn, tc)
	} else if !o.cfg.DisableSendfile {
		if s.sf, err = newSendfileConn(conn.(*net.TCPConn)); err != nil {
			conn.Close()
			return err
		}
	}
	conn.SetDeadline(time.Now().Add(o.cfg.DialTimeout))
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()
	hello, err := protocol.AppendClientHello(nil, &protocol.ClientHello{
		Version: protocol.Version, AgentID: o.agent, Token: []byte(o.cfg.Token)})
	if err == nil {
		_, err = conn.Write(hello)
	}
	var sh protocol.ServerHello
	answer := &firstBytes{r: conn}
	if err == nil {
		sh, err = protocol.ReadServerHello(answer)
	}
	if err != nil && ctx.Err() == nil {
		answer.more(conn)
		err = explainHello(err, answer.bytes(), o.cfg.DialTimeout)
	}
	if err == nil && !sh.Accepted {
		err = fmt.Errorf("refused by %s: %s", s.endpoint, sh.Reason)
	}
	if err != nil {
		conn.Close()
		return fmt.Errorf("hello to %s: %w", s.endpoint, err)
	}
	conn.SetDeadline(time.Time{})
	s.conn, s.limits = conn, sh
	return nil
}

func (s *session) heartbeat() time.Duration {
	return time.Duration(max(s.limits.Heartbeat, 10)) * time.Millisecond
}

// sendLoop ships one partition: read a range, wait for window, send.
func (s *session) sendLoop(ctx context.Context, c *shipper.Cursor) error {
	hdrSize := protocol.DataHeaderSize(len(c.Key().Stream))
	maxPayload := min(int64(s.out.cfg.FrameBytes), int64(s.limits.MaxFrame)-int64(hdrSize))
	hdr := make([]byte, 0, hdrSize)
	for {
		rg, err := c.Next(ctx, maxPayload)
		if err != nil {
			return err
		}
		if rg.Len+int64(hdrSize) > int64(s.limits.MaxFrame) {
			// One batch larger than the peer takes: it can never be sent there.
			return fmt.Errorf("%v: batch of %d bytes at offset %d exceeds the peer's max frame %d",
				c.Key(), rg.Len, rg.First, s.limits.MaxFrame)
		}
		if err := s.acquire(ctx, rg.Len); err != nil {
			return err
		}
		if s.verify {
			err = s.sendVerified(c, hdr, rg)
		} else {
			hdr = protocol.AppendDataHeader(hdr[:0], &protocol.DataHeader{
				Stream: c.Key().Stream, Partition: uint32(c.Key().Partition),
				First: rg.First, Last: rg.Next - 1, Len: uint32(rg.Len)})
			err = s.send(c, hdr, rg)
		}
		if err != nil {
			return err
		}
	}
}

// sendVerified reads a range, checks every batch's CRC, and sends the runs of
// good batches as frames of their own, skipping damaged ones (logged and
// counted: they cannot be delivered, and must not stop the partition). It is
// the path after a peer refused a frame with CodeBadBatch: the bytes on this
// disk are damaged, and sendfile never looks at them.
func (s *session) sendVerified(c *shipper.Cursor, hdr []byte, rg spool.Range) error {
	buf := make([]byte, rg.Len)
	if _, err := rg.File.ReadAt(buf, rg.Pos); err != nil {
		return fmt.Errorf("read %v at %d: %w", c.Key(), rg.First, err)
	}
	run, first, next := 0, rg.First, rg.First
	sent := 0
	defer func() { s.release(rg.Len - int64(sent)) }() // the window held skipped bytes too
	flush := func(end int) error {
		if end == run {
			return nil
		}
		sent += end - run
		hdr = protocol.AppendDataHeader(hdr[:0], &protocol.DataHeader{
			Stream: c.Key().Stream, Partition: uint32(c.Key().Partition),
			First: first, Last: next - 1, Len: uint32(end - run)})
		return s.sendBytes(c, hdr, buf[run:end], next)
	}
	for pos := 0; pos < len(buf); {
		h, size, err := batch.Check(buf[pos:])
		if err == nil {
			next += uint64(h.Count)
			pos += size
			continue
		}
		if ferr := flush(pos); ferr != nil {
			return ferr
		}
		s.out.stats.CorruptBatches.Add(1)
		hh, perr := batch.ParseHeader(buf[pos:])
		if perr != nil || pos+int(hh.Size()) > len(buf) {
			s.log.Error("damaged batches not sent: the rest of the range is unreadable",
				zap.Stringer("partition", c.Key()), zap.Uint64("from", next), zap.Uint64("to", rg.Next), zap.Error(err))
			return nil
		}
		s.log.Error("damaged batch not sent", zap.Stringer("partition", c.Key()),
			zap.Uint64("offset", hh.BaseOffset), zap.Uint32("records", hh.Count), zap.Error(err))
		pos += int(hh.Size())
		next += uint64(hh.Count)
		run, first = pos, next
	}
	return flush(len(buf))
}

// release gives back window bytes reserved for nothing sent.
func (s *session) release(n int64) {
	if n == 0 {
		return
	}
	s.mu.Lock()
	s.bytes -= n
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
	s.out.stats.InFlight.Add(-n)
}

// sendBytes writes a frame whose payload is in memory.
func (s *session) sendBytes(c *shipper.Cursor, hdr, payload []byte, next uint64) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	s.mu.Lock()
	s.fifo = append(s.fifo, inflight{cursor: c, last: next - 1, next: next, bytes: int64(len(payload))})
	s.mu.Unlock()
	s.conn.SetWriteDeadline(time.Now().Add(3 * s.heartbeat()))
	if _, err := s.conn.Write(hdr); err != nil {
		return err
	}
	if _, err := s.conn.Write(payload); err != nil {
		return err
	}
	s.lastWrite.Store(time.Now().UnixNano())
	s.out.stats.Frames.Add(1)
	s.out.stats.Bytes.Add(uint64(len(payload)))
	return nil
}

// acquire waits until n more payload bytes fit the window and reserves
// them; a frame larger than the window goes alone.
func (s *session) acquire(ctx context.Context, n int64) error {
	for {
		s.mu.Lock()
		if s.bytes == 0 || s.bytes+n <= int64(s.limits.Window) {
			s.bytes += n
			s.mu.Unlock()
			s.out.stats.InFlight.Add(n)
			return nil
		}
		ch := s.changed
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (s *session) send(c *shipper.Cursor, hdr []byte, rg spool.Range) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	s.mu.Lock()
	s.fifo = append(s.fifo, inflight{cursor: c, last: rg.Next - 1, next: rg.Next, bytes: rg.Len})
	s.mu.Unlock()
	st := &s.out.stats
	// A peer that stops reading for three heartbeats is gone.
	s.conn.SetWriteDeadline(time.Now().Add(3 * s.heartbeat()))
	var err error
	if s.sf != nil {
		err = s.sf.send(hdr, rg.File, rg.Pos, rg.Len)
		st.Sendfile.Add(1)
	} else {
		err = sendBuffered(s.conn, hdr, rg.File, rg.Pos, rg.Len)
	}
	if err != nil {
		return fmt.Errorf("send %v offsets %d..%d: %w", c.Key(), rg.First, rg.Next-1, err)
	}
	s.lastWrite.Store(time.Now().UnixNano())
	st.Frames.Add(1)
	st.Bytes.Add(uint64(rg.Len))
	return nil
}

// heartbeats writes a HEARTBEAT whenever nothing was written for an interval.
func (s *session) heartbeats(ctx context.Context) {
	hb := s.heartbeat()
	t := time.NewTicker(hb / 2)
	defer t.Stop()
	frame := protocol.AppendHeartbeat(nil)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if time.Since(time.Unix(0, s.lastWrite.Load())) < hb {
			continue
		}
		s.writeMu.Lock()
		s.conn.SetWriteDeadline(time.Now().Add(3 * hb))
		_, err := s.conn.Write(frame)
		s.writeMu.Unlock()
		if err != nil {
			return // the reader sees the broken connection too
		}
		s.lastWrite.Store(time.Now().UnixNano())
	}
}

// read handles the server's frames: ACKs in order, heartbeats, errors.
func (s *session) read() error {
	r := protocol.NewReader(bufio.NewReader(s.conn), protocol.MinMaxFrame)
	for {
		s.conn.SetReadDeadline(time.Now().Add(3 * s.heartbeat()))
		f, err := r.ReadFrame()
		if err != nil {
			return fmt.Errorf("read from %s: %w", s.endpoint, err)
		}
		// The peer is alive: a write blocked because it is slow to read (a
		// full spool that blocks its appends) may wait on.
		s.conn.SetWriteDeadline(time.Now().Add(3 * s.heartbeat()))
		switch f.Type {
		case protocol.TypeAck:
			if err := s.ack(&f.Ack); err != nil {
				return err
			}
		case protocol.TypeHeartbeat:
		case protocol.TypeError:
			return fmt.Errorf("%s: %w", s.endpoint, &f.Error)
		default:
			return fmt.Errorf("%s sent a %s frame: %w", s.endpoint, f.Type, protocol.ErrMalformed)
		}
	}
}

func (s *session) ack(a *protocol.Ack) error {
	s.mu.Lock()
	if len(s.fifo) == 0 {
		s.mu.Unlock()
		return fmt.Errorf("%s acknowledged %s/%d..%d with nothing in flight: %w", s.endpoint, a.Stream, a.Partition, a.Last, protocol.ErrMalformed)
	}
	head := s.fifo[0]
	k := head.cursor.Key()
	if a.Stream != k.Stream || int(a.Partition) != k.Partition || a.Last != head.last {
		s.mu.Unlock()
		return fmt.Errorf("%s acknowledged %s/%d..%d, expected %v..%d: %w", s.endpoint, a.Stream, a.Partition, a.Last, k, head.last, protocol.ErrMalformed)
	}
	s.fifo[0] = inflight{}
	s.fifo = s.fifo[1:]
	s.bytes -= head.bytes
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
	prev := head.cursor.Acked()
	head.cursor.Ack(head.next)
	s.progressed = true
	st := &s.out.stats
	if head.next > prev {
		st.AckedRecords.Add(head.next - prev)
	}
	st.Acked.Add(1)
	st.AckedBytes.Add(uint64(head.bytes))
	st.InFlight.Add(-head.bytes)
	return nil
}

// drain waits, after the senders stopped, for the frames in flight to be
// acknowledged, up to DrainTimeout.
func (s *session) drain(readDone <-chan struct{}) {
	t := time.NewTimer(s.out.cfg.DrainTimeout)
	defer t.Stop()
	for {
		s.mu.Lock()
		n, ch := len(s.fifo), s.changed
		s.mu.Unlock()
		if n == 0 {
			return
		}
		select {
		case <-ch:
		case <-readDone:
			return
		case <-t.C:
			s.log.Warn("frames still unacknowledged at shutdown; they will be sent again", zap.Int("frames", n))
			return
		}
	}
}
