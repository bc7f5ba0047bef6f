package socket

import (
	"context"
	"errors"
	"net"
	"time"

	"go.uber.org/zap"
)

// datagramWait is how long a datagram waits for a free batch before it is
// dropped: long enough to ride out a flusher that was not scheduled at once
// (the socket's buffer holds what comes meanwhile), short enough that a
// stalled spool costs drops, not memory.
const datagramWait = 20 * time.Millisecond

// serveDatagrams reads one datagram socket: one message per datagram, as
// many datagrams per system call as are queued. When the partition's
// batches are all taken (the spool is behind) datagrams are dropped and
// counted: nothing queues in memory.
func (in *Input) serveDatagrams(ctx context.Context, p *packetSocket) {
	max := in.cfg.MaxMessageBytes
	r := newPacketReader(p.conn, max+1)
	enc := newEncoder(in.format, in.loc)
	udp := p.addr.network == "udp"
	var peer []byte
	for {
		n, err := r.read()
		if err != nil {
			if errors.Is(err, net.ErrClosed) || ctx.Err() != nil || in.stopping.Load() && isDeadline(err) {
				return
			}
			in.stats.ReadErrors.Add(1)
			in.log.Warn("datagram read failed", zap.Stringer("address", p.addr), zap.Error(err))
			continue
		}
		now := time.Now()
		nowNS := now.UnixNano()
		var msgs, bytes, truncated, failed, dropped uint64
		err = p.b.lock(ctx, datagramWait)
		for i := 0; i < n && err == nil; i++ {
			msg, from := r.datagram(i)
			cut := false
			if len(msg) > max {
				msg, cut = msg[:max], true
			}
			if msg = trimNewlines(msg); len(msg) == 0 {
				continue
			}
			if err = p.b.ready(ctx, datagramWait); err != nil {
				dropped += uint64(n - i)
				break
			}
			if udp && from.IsValid() {
				peer = from.AppendTo(peer[:0])
				enc.peer = peer
			}
			if enc.add(p.b.cur, now, nowNS, msg, cut) {
				failed++
			}
			p.b.added()
			msgs++
			bytes += uint64(len(msg))
			if cut {
				truncated++
			}
		}
		if err != nil && msgs == 0 && dropped == 0 {
			dropped = uint64(n)
		}
		p.b.unlock()
		in.stats.Messages.Add(msgs)
		in.stats.Bytes.Add(bytes)
		in.stats.Truncated.Add(truncated)
		in.stats.ParseErrors.Add(failed)
		if dropped > 0 {
			d := in.stats.DatagramsDropped.Add(dropped)
			if in.dropLog.allow() {
				in.log.Warn("spool behind: dropping datagrams", zap.Stringer("address", p.addr),
					zap.Uint64("datagrams_dropped_total", d))
			}
		}
	}
}

func trimNewlines(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r' || b[len(b)-1] == 0) {
		b = b[:len(b)-1]
	}
	return b
}
