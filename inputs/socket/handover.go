package socket

import (
	"errors"
	"net"
	"os"
	"time"

	"github.com/capstan-agent/capstan/inputs/socket/framing"
)

// A reload that changes a socket input's settings hands its live sockets
// to the new instance instead of closing them: listeners keep their queue
// of connections not yet accepted, datagram sockets the datagrams the
// kernel holds, and each open connection its framer — the bytes of a
// message half read, and its framing state — so a sender never sees a
// reset and nothing it sent is lost or read twice. The old instance stops
// reading at a message boundary and appends what it read before it leaves.
// New settings apply to what the new instance opens; a connection keeps the
// framing and message limit it started with.

// Handoff is what an input left for the next instance: its sockets by
// address, and its open connections.
type Handoff struct {
	listeners map[string]net.Listener // by configured address and by bound address
	packets   map[string]net.PacketConn
	conns     []*connState
}

// connState is a stream connection between two reads.
type connState struct {
	addr    address
	conn    net.Conn // a *tls.Conn once its handshake is done
	fr      *framing.Framer
	bufp    *[]byte // the framer's buffer, nil while it holds none
	foreign bool    // bufp came from another instance's pool: not to be put in this one's
	wait    bool    // readiness is waited for without a buffer (plain sockets)
	part    uint64  // the connection's partition index, kept across instances
	peer    string
	max     int // the max_message_bytes its framer was made with
}

// Close releases everything the handoff holds (when no instance takes it).
func (h *Handoff) Close() {
	if h == nil {
		return
	}
	for _, ln := range h.listeners {
		ln.Close() // a second Close of one listener (both keys) is harmless
	}
	for key, pc := range h.packets {
		pc.Close()
		if a, err := parseAddress(key, ""); err == nil && a.network == "unixgram" {
			os.Remove(a.addr)
		}
	}
	for _, c := range h.conns {
		c.conn.Close()
	}
	h.listeners, h.packets, h.conns = nil, nil, nil
}

// Keep makes Run, when its context ends, stop at message boundaries and
// leave its sockets open for Left instead of closing them.
func (in *Input) Keep() { in.keep.Store(true) }

// Left is what Run left when it returned after Keep (nil otherwise).
func (in *Input) Left() *Handoff { return in.left }

// take returns an inherited listener or datagram socket for a, if any.
func (in *Input) take(a address) (net.Listener, net.PacketConn) {
	h := in.inherited
	if h == nil {
		return nil, nil
	}
	key := a.String()
	if ln, ok := h.listeners[key]; ok {
		for k, l := range h.listeners {
			if l == ln {
				delete(h.listeners, k)
			}
		}
		return ln, nil
	}
	if pc, ok := h.packets[key]; ok {
		for k, p := range h.packets {
			if p == pc {
				delete(h.packets, k)
			}
		}
		return nil, pc
	}
	return nil, nil
}

// stopReads makes every reader of the input return at its next message
// boundary: accept loops, datagram readers and connections are woken by a
// deadline, again every 10ms until they are gone (a reader may have set its
// idle deadline just after).
func (in *Input) stopReads(done <-chan struct{}) {
	now := func() time.Time { return time.Now() }
	wake := func() {
		for _, l := range in.listeners {
			if d, ok := l.ln.(interface{ SetDeadline(time.Time) error }); ok {
				d.SetDeadline(now())
			}
		}
		for _, p := range in.packets {
			p.conn.SetReadDeadline(now())
		}
		in.connMu.Lock()
		for c := range in.conns {
			c.SetReadDeadline(now())
		}
		in.connMu.Unlock()
	}
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		wake()
		select {
		case <-done:
			return
		case <-t.C:
		}
	}
}

func isDeadline(err error) bool { return errors.Is(err, os.ErrDeadlineExceeded) }
