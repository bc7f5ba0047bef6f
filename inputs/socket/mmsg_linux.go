//go:build linux && (amd64 || arm64)

package socket

import (
	"net"
	"net/netip"
	"syscall"
	"unsafe"
)

// mmsghdr is struct mmsghdr of recvmmsg(2) on 64-bit Linux.
type mmsghdr struct {
	hdr syscall.Msghdr
	n   uint32
	_   [4]byte
}

// mmsgReader reads up to len(hdrs) datagrams per recvmmsg(2): at high rates
// the system call per datagram, not the copying, is what loses UDP.
type mmsgReader struct {
	rc    syscall.RawConn
	hdrs  []mmsghdr
	iovs  []syscall.Iovec
	names []syscall.RawSockaddrAny
	bufs  [][]byte
	n     int
}

// mmsgBytes bounds the slots of one reader.
const mmsgBytes = 1 << 20

func newMmsgReader(pc net.PacketConn, slot int) packetReader {
	sc, ok := pc.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	k := max(1, min(64, mmsgBytes/slot))
	r := &mmsgReader{rc: rc, hdrs: make([]mmsghdr, k), iovs: make([]syscall.Iovec, k),
		names: make([]syscall.RawSockaddrAny, k), bufs: make([][]byte, k)}
	for i := range k {
		r.bufs[i] = make([]byte, slot)
		r.iovs[i].Base = &r.bufs[i][0]
		r.iovs[i].SetLen(slot)
		r.hdrs[i].hdr.Iov = &r.iovs[i]
		r.hdrs[i].hdr.Iovlen = 1
		r.hdrs[i].hdr.Name = (*byte)(unsafe.Pointer(&r.names[i]))
	}
	return r
}

func (r *mmsgReader) read() (int, error) {
	var n int
	var errno syscall.Errno
	err := r.rc.Read(func(fd uintptr) bool {
		for i := range r.hdrs {
			r.hdrs[i].hdr.Namelen = syscall.SizeofSockaddrAny
			r.hdrs[i].hdr.Flags = 0
			r.hdrs[i].n = 0
		}
		r1, _, e := syscall.Syscall6(syscall.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&r.hdrs[0])),
			uintptr(len(r.hdrs)), syscall.MSG_DONTWAIT, 0, 0)
		if e == syscall.EAGAIN {
			return false
		}
		n, errno = int(r1), e
		return true
	})
	if err != nil {
		return 0, err
	}
	if errno != 0 {
		return 0, errno
	}
	r.n = n
	return n, nil
}

func (r *mmsgReader) datagram(i int) ([]byte, netip.AddrPort) {
	h := &r.hdrs[i]
	b := r.bufs[i][:min(int(h.n), len(r.bufs[i]))]
	name := &r.names[i]
	switch {
	case name.Addr.Family == syscall.AF_INET && h.hdr.Namelen >= syscall.SizeofSockaddrInet4:
		sa := (*syscall.RawSockaddrInet4)(unsafe.Pointer(name))
		return b, netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), ntohs(sa.Port))
	case name.Addr.Family == syscall.AF_INET6 && h.hdr.Namelen >= syscall.SizeofSockaddrInet6:
		sa := (*syscall.RawSockaddrInet6)(unsafe.Pointer(name))
		return b, netip.AddrPortFrom(netip.AddrFrom16(sa.Addr).Unmap(), ntohs(sa.Port))
	}
	return b, netip.AddrPort{}
}

func ntohs(p uint16) uint16 {
	b := (*[2]byte)(unsafe.Pointer(&p))
	return uint16(b[0])<<8 | uint16(b[1])
}
