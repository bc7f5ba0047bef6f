//go:build !(linux && (amd64 || arm64))

package socket

import "net"

// waitReadable is a no-op off Linux: connections keep their buffer.
func waitReadable(net.Conn) error { return nil }
