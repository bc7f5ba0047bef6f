package socket

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
)

// TestHandOverKeepsEveryMessage: clients on plain TCP, TLS and a unix
// stream socket write without pause while the input is handed over to a new
// instance with other settings, five times; no connection breaks, and every
// message is in the spool exactly once, in order per client. Messages are
// written in pieces, so hand-overs fall in the middle of messages too.
func TestHandOverKeepsEveryMessage(t *testing.T) {
	p := newPKI(t)
	p.issue("server", "127.0.0.1", 10, 0)
	sock := sockPath(t, "h.sock")
	cfg := Config{Name: "h", Addresses: []string{"tcp://127.0.0.1:0", "tcp://127.0.0.1:0", "unix://" + sock}}
	plain := cfg
	tlsCfg := Config{Name: "h", Addresses: []string{"tcp://127.0.0.1:0"}, TLS: &TLSConfig{CertFile: p.path("server.crt"), KeyFile: p.path("server.key")}}

	for _, tc := range []struct {
		name string
		cfg  Config
	}{{"plain and unix", plain}, {"tls", tlsCfg}} {
		t.Run(tc.name, func(t *testing.T) {
			h := start(t, tc.cfg, 2)
			addrs := append([]string(nil), tc.cfg.Addresses...)
			for i, a := range h.in.Addrs() { // pin the ports bound by :0
				if strings.HasPrefix(addrs[i], "tcp://") {
					addrs[i] = "tcp://" + a.String()
				}
			}
			next := tc.cfg
			next.Addresses = addrs
			const perClient = 3000
			var wg sync.WaitGroup
			errs := make(chan error, 8)
			for ci, a := range h.in.Addrs() {
				network, addr := a.Network(), a.String()
				wg.Go(func() {
					var c net.Conn
					var err error
					if tc.cfg.TLS != nil {
						c, err = tlsDial(addr, p)
					} else {
						c, err = net.Dial(network, addr)
					}
					if err != nil {
						errs <- err
						return
					}
					defer c.Close()
					for i := 0; i < perClient; i++ {
						msg := line(ci, i) + "\n"
						half := len(msg) / 2
						if _, err := c.Write([]byte(msg[:half])); err != nil {
							errs <- fmt.Errorf("client %d at %d: %w", ci, i, err)
							return
						}
						if _, err := c.Write([]byte(msg[half:])); err != nil {
							errs <- fmt.Errorf("client %d at %d: %w", ci, i, err)
							return
						}
						if i%100 == 0 {
							time.Sleep(time.Millisecond)
						}
					}
				})
			}
			parts := []Appender{h.st.Partition(0), h.st.Partition(1)}
			cur := h
			for k := 0; k < 5; k++ {
				time.Sleep(40 * time.Millisecond)
				cur.in.Keep()
				cur.stop()
				left := cur.in.Left()
				if left == nil {
					t.Fatal("nothing left after Keep")
				}
				next.Linger = time.Duration(k+1) * time.Millisecond // another setting each time
				next.MaxMessageBytes = 1000 + k
				in, err := NewInheriting(next, parts, zaptest.NewLogger(t), left)
				if err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithCancel(context.Background())
				nh := &harness{t: t, sp: h.sp, st: h.st, in: in, cancel: cancel, done: make(chan error, 1)}
				go func() { nh.done <- in.Run(ctx) }()
				t.Cleanup(nh.stop)
				cur = nh
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			want := perClient * len(addrs)
			waitFor(t, fmt.Sprintf("%d records", want), func() bool { return cur.count() >= want })
			cur.stop()
			seen := map[string]int{}
			order := map[int]int{}
			for _, r := range cur.records() {
				seen[r.body]++
				var ci, seq int
				fmt.Sscanf(r.body, "client=%d seq=%d", &ci, &seq)
				if seq != order[ci] {
					t.Fatalf("client %d: seq %d after %d", ci, seq, order[ci]-1)
				}
				order[ci]++
			}
			for ci := range addrs {
				for i := 0; i < perClient; i++ {
					if n := seen[line(ci, i)]; n != 1 {
						t.Fatalf("%q stored %d times", line(ci, i), n)
					}
				}
			}
		})
	}
}
