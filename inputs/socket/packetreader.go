package socket

import (
	"net"
	"net/netip"
)

// packetReader reads datagrams from a socket, one or several at a time.
type packetReader interface {
	// read blocks until at least one datagram came and returns how many.
	read() (int, error)
	// datagram is datagram i of the last read (its bytes, truncated to the
	// reader's slot size) and its sender (invalid when unknown).
	datagram(i int) ([]byte, netip.AddrPort)
}

// singleReader reads one datagram per system call: the portable way.
type singleReader struct {
	udp  *net.UDPConn
	unix *net.UnixConn
	buf  []byte
	n    int
	from netip.AddrPort
}

func (r *singleReader) read() (n int, err error) {
	if r.udp != nil {
		r.n, r.from, err = r.udp.ReadFromUDPAddrPort(r.buf)
	} else {
		r.n, err = r.unix.Read(r.buf) // senders are mostly unbound: no address to keep
	}
	if err != nil {
		return 0, err
	}
	return 1, nil
}

func (r *singleReader) datagram(int) ([]byte, netip.AddrPort) { return r.buf[:r.n], r.from }

// newPacketReader picks the fastest reader for the socket; slot is the
// largest datagram it keeps whole.
func newPacketReader(pc net.PacketConn, slot int) packetReader {
	if r := newMmsgReader(pc, slot); r != nil {
		return r
	}
	r := &singleReader{buf: make([]byte, slot)}
	r.udp, _ = pc.(*net.UDPConn)
	r.unix, _ = pc.(*net.UnixConn)
	return r
}
