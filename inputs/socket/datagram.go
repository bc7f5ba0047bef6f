package socket

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"time"

	"go.uber.org/zap"
)

// serveDatagrams reads one datagram socket: one message per datagram. When
// the partition's batches are all taken (the spool is behind) a datagram is
// dropped and counted: nothing queues in memory.
func (in *Input) serveDatagrams(ctx context.Context, p *packetSocket) {
	max := in.cfg.MaxMessageBytes
	buf := make([]byte, max+1)
	enc := newEncoder(in.format, in.loc)
	udp, _ := p.conn.(*net.UDPConn)
	unixgram, _ := p.conn.(*net.UnixConn)
	var peer []byte
	for {
		var n int
		var err error
		if udp != nil {
			var from netip.AddrPort
			n, from, err = udp.ReadFromUDPAddrPort(buf)
			peer = from.AppendTo(peer[:0])
			enc.peer = peer
		} else {
			n, err = unixgram.Read(buf) // senders are mostly unbound: no address to keep
		}
		if err != nil {
			if errors.Is(err, net.ErrClosed) || ctx.Err() != nil {
				return
			}
			in.stats.ReadErrors.Add(1)
			in.log.Warn("datagram read failed", zap.Stringer("address", p.addr), zap.Error(err))
			continue
		}
		msg, cut := buf[:n], false
		if n > max {
			msg, cut = msg[:max], true
		}
		msg = trimNewlines(msg)
		if len(msg) == 0 {
			continue
		}
		now := time.Now()
		if err := p.b.lock(ctx, datagramWait); err != nil {
			p.b.unlock()
			d := in.stats.DatagramsDropped.Add(1)
			if in.dropLog.allow() {
				in.log.Warn("spool behind: dropping datagrams", zap.Stringer("address", p.addr),
					zap.Uint64("datagrams_dropped_total", d))
			}
			continue
		}
		failed := enc.add(p.b.cur, now, now.UnixNano(), msg, cut)
		p.b.added()
		p.b.unlock()
		in.stats.Messages.Add(1)
		in.stats.Bytes.Add(uint64(len(msg)))
		if cut {
			in.stats.Truncated.Add(1)
		}
		if failed {
			in.stats.ParseErrors.Add(1)
		}
	}
}

// datagramWait is how long a datagram waits for a free batch before it is
// dropped: long enough to ride out a flusher that was not scheduled at once
// (the socket's buffer holds what comes meanwhile), short enough that a
// stalled spool costs drops, not memory.
const datagramWait = 20 * time.Millisecond

func trimNewlines(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r' || b[len(b)-1] == 0) {
		b = b[:len(b)-1]
	}
	return b
}
