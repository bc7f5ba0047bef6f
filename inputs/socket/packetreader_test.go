package socket

import (
	"net"
	"testing"
)

// TestPacketReaders: both readers return every queued datagram with its
// sender, cut to the slot size.
func TestPacketReaders(t *testing.T) {
	for _, network := range []string{"udp4"} { // tests use 127.0.0.1 only
		for _, kind := range []string{"single", "mmsg"} {
			t.Run(network+"/"+kind, func(t *testing.T) {
				host := "127.0.0.1:0"
				pc, err := net.ListenPacket(network, host)
				if err != nil {
					t.Fatalf("listen %s: %v", host, err)
				}
				defer pc.Close()
				var r packetReader
				if kind == "mmsg" {
					if r = newMmsgReader(pc, 8); r == nil {
						t.Fatal("no recvmmsg reader on this platform")
					}
				} else {
					r = &singleReader{udp: pc.(*net.UDPConn), buf: make([]byte, 8)}
				}
				c := dial(t, "udp", pc.LocalAddr().String())
				want := []string{"one", "two", "a long one"}
				for _, m := range want {
					c.Write([]byte(m))
				}
				var got []string
				for len(got) < len(want) {
					n, err := r.read()
					if err != nil {
						t.Fatal(err)
					}
					for i := range n {
						b, from := r.datagram(i)
						if from.String() != c.LocalAddr().String() {
							t.Fatalf("sender %v, want %v", from, c.LocalAddr())
						}
						got = append(got, string(b))
					}
				}
				if got[0] != "one" || got[1] != "two" || got[2] != "a long o" {
					t.Fatalf("got %q", got)
				}
			})
		}
	}
}
