//go:build linux && (amd64 || arm64)

package socket

import (
	"net"
	"syscall"
	"unsafe"
)

// waitReadable parks until c has bytes to read (or EOF, or an error, or
// its read deadline), without a buffer: an idle connection then holds no
// read buffer, which is what keeps thousands of them cheap. It peeks one
// byte with MSG_PEEK so that data already queued is never waited for.
func waitReadable(c net.Conn) error {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	var b [1]byte
	return rc.Read(func(fd uintptr) bool {
		_, _, errno := syscall.Syscall6(syscall.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&b[0])), 1,
			syscall.MSG_PEEK|syscall.MSG_DONTWAIT, 0, 0)
		return errno != syscall.EAGAIN
	})
}
