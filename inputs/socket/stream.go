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

// serveConn reads one stream connection to its end. Its records go to b in
// the order they came; while b has no room, it stops reading, so the
// sender's socket buffer fills and the sender feels it.
func (in *Input) serveConn(ctx context.Context, a address, c net.Conn, b *batcher) {
	log := in.log
	enc := newEncoder(in.format, in.loc)
	if a.network == "tcp" {
		enc.peer = []byte(peerOf(c))
		log = log.With(zap.String("peer", peerOf(c)))
	}
	// TLS keeps decrypted and raw bytes of its own, which readiness of the
	// socket does not show: a TLS connection keeps its read buffer.
	wait := true
	if in.tls != nil && a.network == "tcp" {
		tc := tls.Server(c, in.tls)
		c.SetDeadline(time.Now().Add(in.cfg.TLS.HandshakeTimeout))
		if err := tc.HandshakeContext(ctx); err != nil {
			n := in.stats.TLSHandshakeErrors.Add(1)
			if in.tlsLog.allow() {
				log.Warn("tls handshake failed", zap.Error(err), zap.Uint64("tls_handshake_errors_total", n))
			}
			return
		}
		c.SetDeadline(time.Time{})
		c, wait = tc, false
	}
	fr := framing.New(in.framing, in.cfg.MaxMessageBytes)
	var bufp *[]byte
	defer func() {
		if bufp != nil {
			in.bufs.Put(bufp)
		}
	}()
	for {
		in.setIdleDeadline(c)
		if fr.Buffered() == 0 && wait {
			if bufp != nil && fr.Detach() != nil {
				in.bufs.Put(bufp)
				bufp = nil
			}
			if err := waitReadable(c); err != nil {
				in.readEnded(log, err)
				return
			}
		}
		if bufp == nil {
			bufp = in.bufs.Get().(*[]byte)
			fr.Attach(*bufp)
		}
		n, err := c.Read(fr.Space())
		fr.Commit(n)
		if err != nil {
			fr.SetEOF()
		}
		if n > 0 || err != nil {
			if derr := in.deliver(ctx, fr, enc, b); derr != nil {
				log.Error("connection dropped: spool did not take its records in time", zap.Error(derr))
				return
			}
		}
		if err != nil {
			in.readEnded(log, err)
			return
		}
	}
}

func (in *Input) setIdleDeadline(c net.Conn) {
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
