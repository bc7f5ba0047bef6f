package socket

import (
	"fmt"
	"net"
	"strings"
)

// address is a parsed listen address.
type address struct {
	network string // tcp, udp, unix, unixgram
	addr    string // host:port or path
}

func (a address) String() string { return a.network + "://" + a.addr }

func (a address) stream() bool { return a.network == "tcp" || a.network == "unix" }

// parseAddress reads scheme://rest; without a scheme, def is the scheme.
func parseAddress(s, def string) (address, error) {
	network, rest, ok := strings.Cut(s, "://")
	if !ok {
		network, rest = def, s
	}
	switch network {
	case "tcp", "udp":
		if _, _, err := net.SplitHostPort(rest); err != nil {
			return address{}, fmt.Errorf("%q: %w", s, err)
		}
	case "unix", "unixgram":
		if !strings.HasPrefix(rest, "/") {
			return address{}, fmt.Errorf("%q: want an absolute path, as in unix:///run/app.sock", s)
		}
	case "":
		return address{}, fmt.Errorf("%q: no scheme (tcp://, udp://, unix://, unixgram://)", s)
	default:
		return address{}, fmt.Errorf("%q: unknown scheme %q", s, network)
	}
	return address{network: network, addr: rest}, nil
}
