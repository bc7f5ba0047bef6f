//go:build !(linux && (amd64 || arm64))

package socket

import "net"

// newMmsgReader: recvmmsg(2) is used on 64-bit Linux only.
func newMmsgReader(net.PacketConn, int) packetReader { return nil }
