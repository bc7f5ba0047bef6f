package socket

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"time"

	"go.uber.org/zap"

	"github.com/capstan-agent/capstan/inputs/socket/framing"
)

// serveConn reads one stream connection to its end (then it returns nil),
// or until the input hands its connections over (then it returns the
// connection's state). Its records go to one batcher in the order they
// came; while the batcher has no room, it stops reading, so the sender's
// socket buffer fills and the sender feels it.
func (in *Input) serveConn(ctx context.Context, a address, c net.Conn, part uint64) *connState {
	st := &connState{addr: a, conn: c, part: part, wait: true}
	if a.network == "tcp" {
		st.peer = peerOf(c)
	}
	// TLS keeps decrypted and raw bytes of its own, which readiness of the
	// socket does not show: a TLS connection keeps its read buffer.
	if in.tls != nil && a.network == "tcp" {
		tc := tls.Server(c, in.tls)
		c.SetDeadline(time.Now().Add(in.cfg.TLS.HandshakeTimeout))
		if err := tc.HandshakeContext(ctx); err != nil {
			n := in.stats.TLSHandshakeErrors.Add(1)
			if in.tlsLog.allow() {
				in.log.Warn("tls handshake failed", zap.String("peer", st.peer), zap.Error(err), zap.Uint64("tls_handshake_errors_total", n))
			}
			return nil
		}
		c.SetDeadline(time.Time{})
		st.conn, st.wait = tc, false
	}
	st.fr, st.max = framing.New(in.framing, in.cfg.MaxMessageBytes), in.cfg.MaxMessageBytes
	return in.readConn(ctx, st, in.batchers[part%uint64(len(in.batchers))])
}

// readConn is serveConn's loop, from a connection's state.
func (in *Input) readConn(ctx context.Context, st *connState, b *batcher) *connState {
	log := in.log
	enc := newEncoder(in.format, in.loc)
	if st.peer != "" {
		enc.peer = []byte(st.peer)
		log = log.With(zap.String("peer", st.peer))
	}
	c, fr := st.conn, st.fr
	release := func() {
		if st.bufp != nil && !st.foreign {
			in.bufs.Put(st.bufp)
		}
		st.bufp, st.foreign = nil, false
	}
	for {
		in.setIdleDeadline(c)
		if fr.Buffered() == 0 && st.wait {
			if st.bufp != nil && fr.Detach() != nil {
				release()
			}
			if err := waitReadable(c); err != nil {
				if in.handingOver(err) {
					return st
				}
				in.readEnded(log, err)
				release()
				return nil
			}
		}
		if st.bufp == nil {
			if st.max == in.cfg.MaxMessageBytes {
				st.bufp = in.bufs.Get().(*[]byte)
			} else { // a connection taken over with another message limit
				b := make([]byte, max(framing.BufferSize(st.max), 64<<10))
				st.bufp, st.foreign = &b, true
			}
			fr.Attach(*st.bufp)
		}
		n, err := c.Read(fr.Space())
		fr.Commit(n)
		handing := err != nil && in.handingOver(err)
		if err != nil && !handing {
			fr.SetEOF()
		}
		if n > 0 || err != nil {
			if derr := in.deliver(ctx, fr, enc, b); derr != nil {
				log.Error("connection dropped: spool did not take its records in time", zap.Error(derr))
				release()
				return nil
			}
		}
		if handing {
			return st // the rest of a message, if any, stays in the framer
		}
		if err != nil {
			in.readEnded(log, err)
			release()
			return nil
		}
	}
}

// handingOver tells a read that ended with err to hand its connection over.
func (in *Input) handingOver(err error) bool { return in.stopping.Load() && isDeadline(err) }

func (in *Input) setIdleDeadline(c net.Conn) {
	if in.stopping.Load() {
		c.SetReadDeadline(time.Now())
		return
	}
	if in.cfg.IdleTimeout > 0 {
		c.SetReadDeadline(time.Now().Add(in.cfg.IdleTimeout))
	}
}

// readEnded counts and logs why a connection ended; EOF is normal.
func (in *Input) readEnded(log *zap.Logger, err error) {
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
	case errors.Is(err, os.ErrDeadlineExceeded) && in.cfg.IdleTimeout > 0:
		n := in.stats.IdleTimeouts.Add(1)
		if in.idleLog.allow() {
			log.Info("closing idle connection", zap.Duration("idle_timeout", in.cfg.IdleTimeout),
				zap.Uint64("idle_timeouts_total", n))
		}
	default:
		in.stats.ReadErrors.Add(1)
		log.Debug("connection read failed", zap.Error(err))
	}
}

// deliver moves every whole message the framer holds into b under one
// lock, so that a read of many small lines costs one lock, not one each.
func (in *Input) deliver(ctx context.Context, fr *framing.Framer, enc *encoder, b *batcher) error {
	now := time.Now()
	nowNS := now.UnixNano()
	var msgs, bytes, truncated, failed uint64
	defer func() {
		in.stats.Messages.Add(msgs)
		in.stats.Bytes.Add(bytes)
		if truncated > 0 {
			in.stats.Truncated.Add(truncated)
		}
		if failed > 0 {
			in.stats.ParseErrors.Add(failed)
		}
	}()
	locked := false
	for {
		msg, cut, ok := fr.Next()
		if !ok {
			break
		}
		var err error
		if !locked {
			err, locked = b.lock(ctx, 0), true
		} else {
			err = b.ready(ctx, 0)
		}
		if err != nil {
			// Shutdown with a spool that stays full: what this connection
			// holds is lost, and counted.
			b.unlock()
			lost := uint64(1)
			for _, _, ok := fr.Next(); ok; _, _, ok = fr.Next() {
				lost++
			}
			in.stats.LostRecords.Add(lost)
			return err
		}
		if enc.add(b.cur, now, nowNS, msg, cut) {
			failed++
		}
		b.added()
		msgs++
		bytes += uint64(len(msg))
		if cut {
			truncated++
		}
	}
	if locked {
		b.unlock()
	}
	return nil
}

// peerOf is the remote address of c, or "" when it has none (unix peers).
func peerOf(c net.Conn) string {
	if a := c.RemoteAddr(); a != nil {
		return a.String()
	}
	return ""
}
