package socket

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// checkExactlyOnce checks that every client's lines arrived once, in order.
func checkExactlyOnce(t *testing.T, recs []rec, clients, lines int) {
	t.Helper()
	next := make([]int, clients)
	part := make([]int, clients)
	for i := range part {
		part[i] = -1
	}
	for _, r := range recs {
		c, s, ok := parseLine(r.body)
		if !ok || c >= clients {
			t.Fatalf("unexpected record %q", r.body)
		}
		if s != next[c] {
			t.Fatalf("client %d: got seq %d, want %d (lost, duplicated or reordered)", c, s, next[c])
		}
		if part[c] >= 0 && part[c] != r.part {
			t.Fatalf("client %d spread over partitions %d and %d", c, part[c], r.part)
		}
		part[c] = r.part
		next[c]++
	}
	for c, n := range next {
		if n != lines {
			t.Fatalf("client %d: %d lines arrived, want %d", c, n, lines)
		}
	}
}

// parseLine reads what line wrote (fmt.Sscanf is slow under -race).
func parseLine(b string) (client, seq int, ok bool) {
	rest, ok := strings.CutPrefix(b, "client=")
	cs, ss, ok2 := strings.Cut(rest, " seq=")
	if !ok || !ok2 {
		return 0, 0, false
	}
	c, err1 := strconv.Atoi(cs)
	s, err2 := strconv.Atoi(ss)
	return c, s, err1 == nil && err2 == nil
}

func sendLines(t *testing.T, network, addr string, clients, lines int) {
	var wg sync.WaitGroup
	for c := range clients {
		wg.Go(func() {
			conn, err := net.Dial(network, addr)
			if err != nil {
				t.Error(err)
				return
			}
			if tc, ok := conn.(*net.TCPConn); ok {
				tc.SetWriteBuffer(64 << 10) // no autotuning: backpressure shows sooner
			}
			w := bufio.NewWriterSize(conn, 4096)
			for s := range lines {
				fmt.Fprintf(w, "%s\n", line(c, s))
			}
			if err := w.Flush(); err != nil {
				t.Error(err)
			}
			conn.Close()
		})
	}
	wg.Wait()
}

func TestStreamExactlyOnceInOrder(t *testing.T) {
	for _, network := range []string{"tcp", "unix"} {
		t.Run(network, func(t *testing.T) {
			addr := "tcp://127.0.0.1:0"
			if network == "unix" {
				addr = "unix://" + sockPath(t, "in.sock")
			}
			h := start(t, Config{Addresses: []string{addr}, BatchBytes: 16 << 10}, 3)
			const clients, lines = 8, 5000
			sendLines(t, network, h.addr(0), clients, lines)
			waitFor(t, "all lines", func() bool { return h.in.Stats().Messages.Load() == clients*lines })
			h.stop()
			checkExactlyOnce(t, h.records(), clients, lines)
			if s := h.in.Stats(); s.ConnectionsAccepted.Load() != clients || s.Connections.Load() != 0 {
				t.Fatalf("connections accepted %d open %d", s.ConnectionsAccepted.Load(), s.Connections.Load())
			}
		})
	}
}

// TestShutdownFlushes: records waiting in a batch, and bytes a connection
// sent but the input has not read, reach the spool when Run stops, while
// the clients still hold their connections open.
func TestShutdownFlushes(t *testing.T) {
	p := newPKI(t)
	p.issue("server", "server", 10, 0)
	for _, kind := range []string{"tcp", "unix", "tls"} {
		for _, unread := range []bool{false, true} {
			name := kind
			if unread {
				name += "/unread"
			}
			t.Run(name, func(t *testing.T) { shutdownFlushes(t, p, kind, unread) })
		}
	}
}

func shutdownFlushes(t *testing.T, p *pki, kind string, unread bool) {
	cfg := Config{Addresses: []string{"tcp://127.0.0.1:0"}, Linger: time.Hour}
	switch kind {
	case "unix":
		cfg.Addresses = []string{"unix://" + sockPath(t, "s.sock")}
	case "tls":
		cfg.TLS = &TLSConfig{CertFile: p.path("server.crt"), KeyFile: p.path("server.key")}
	}
	h := start(t, cfg, 1)
	var c net.Conn
	if kind == "tls" {
		var err error
		if c, err = tlsDialConfig(h.addr(0), p); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
	} else {
		c = dial(t, h.in.Addrs()[0].Network(), h.addr(0))
	}
	for s := range 100 {
		fmt.Fprintf(c, "%s\n", line(0, s))
	}
	if unread {
		// Stop at once: what the input has not read yet is in the
		// kernel's buffer, and shutdown must read it.
		waitFor(t, "accepted", func() bool { return h.in.Stats().ConnectionsAccepted.Load() == 1 })
	} else {
		waitFor(t, "100 lines read", func() bool { return h.in.Stats().Messages.Load() == 100 })
		if h.in.Stats().Batches.Load() != 0 {
			t.Fatal("a batch went out before the linger")
		}
	}
	h.stop() // the client still holds its connection open
	checkExactlyOnce(t, h.records(), 1, 100)
}

func TestDatagrams(t *testing.T) {
	for _, network := range []string{"udp", "unixgram"} {
		t.Run(network, func(t *testing.T) {
			addr := "udp://127.0.0.1:0"
			if network == "unixgram" {
				addr = "unixgram://" + sockPath(t, "in.sock")
			}
			h := start(t, Config{Addresses: []string{addr}, MaxMessageBytes: 10}, 2)
			c := dial(t, network, h.addr(0))
			for _, m := range []string{"one\n", "two", "", "a long datagram\r\n", "\n"} {
				if _, err := c.Write([]byte(m)); err != nil {
					t.Fatal(err)
				}
			}
			waitFor(t, "3 datagrams", func() bool { return h.in.Stats().Messages.Load() == 3 })
			h.stop()
			recs := h.records()
			var got []string
			for _, r := range recs {
				got = append(got, r.body+"|"+r.attrs["truncated"])
				if network == "udp" && r.attrs["peer"] != c.LocalAddr().String() {
					t.Fatalf("peer %q, want %q", r.attrs["peer"], c.LocalAddr())
				}
			}
			if strings.Join(got, ",") != "one|,two|,a long dat|true" || h.in.Stats().Truncated.Load() != 1 {
				t.Fatalf("got %q", got)
			}
			if network == "unixgram" {
				if _, err := os.Stat(strings.TrimPrefix(addr, "unixgram://")); !os.IsNotExist(err) {
					t.Fatalf("socket file left after shutdown: %v", err)
				}
			}
		})
	}
}

func TestSeveralAddresses(t *testing.T) {
	sock := sockPath(t, "s.sock")
	gram := sockPath(t, "g.sock")
	h := start(t, Config{Addresses: []string{"tcp://127.0.0.1:0", "unix://" + sock, "udp://127.0.0.1:0", "unixgram://" + gram}}, 1)
	for i, network := range []string{"tcp", "unix", "udp", "unixgram"} {
		c := dial(t, network, h.addr(i))
		fmt.Fprintf(c, "via %s\n", network)
		c.Close()
	}
	waitFor(t, "4 messages", func() bool { return h.in.Stats().Messages.Load() == 4 })
	h.stop()
	if n := len(h.records()); n != 4 {
		t.Fatalf("%d records", n)
	}
	for _, p := range []string{sock, gram} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Fatalf("%s left after shutdown: %v", p, err)
		}
	}
}

func TestUnixSocketFile(t *testing.T) {
	path := sockPath(t, "app.sock")
	// A socket left by a crash: bound, nobody listening.
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	h := start(t, Config{Addresses: []string{"unix://" + path}, SocketMode: "0620"}, 1)
	fi, err := os.Stat(path)
	if err != nil || fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o620 {
		t.Fatalf("socket file: %v %v", fi.Mode(), err)
	}
	// A live socket is refused.
	if _, err := New(Config{Name: "second", Addresses: []string{"unix://" + path}}, []Appender{nopAppender{}}, nil); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("second input on a live socket: %v", err)
	}
	// A file that is not a socket is refused.
	plain := sockPath(t, "plain")
	os.WriteFile(plain, []byte("x"), 0o644)
	if _, err := New(Config{Name: "third", Addresses: []string{"unixgram://" + plain}}, []Appender{nopAppender{}}, nil); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Fatalf("input on a plain file: %v", err)
	}
	h.stop()
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("socket file left: %v", err)
	}
}

func TestMaxConnections(t *testing.T) {
	h := start(t, Config{Addresses: []string{"tcp://127.0.0.1:0"}, MaxConnections: 2}, 1)
	a, b := dial(t, "tcp", h.addr(0)), dial(t, "tcp", h.addr(0))
	waitFor(t, "2 connections", func() bool { return h.in.Stats().Connections.Load() == 2 })
	c := dial(t, "tcp", h.addr(0))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("third connection was served")
	}
	if n := h.in.Stats().ConnectionsRejected.Load(); n != 1 {
		t.Fatalf("rejected %d", n)
	}
	fmt.Fprintln(a, "from a")
	fmt.Fprintln(b, "from b")
	a.Close()
	b.Close()
	waitFor(t, "lines", func() bool { return h.in.Stats().Messages.Load() == 2 })
}

func TestIdleTimeout(t *testing.T) {
	h := start(t, Config{Addresses: []string{"tcp://127.0.0.1:0"}, IdleTimeout: 50 * time.Millisecond}, 1)
	c := dial(t, "tcp", h.addr(0))
	fmt.Fprint(c, "partial line")
	silent := dial(t, "tcp", h.addr(0)) // waits without a buffer
	for _, conn := range []net.Conn{c, silent} {
		if _, err := io.ReadAll(conn); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "both counted", func() bool { return h.in.Stats().IdleTimeouts.Load() == 2 })
	h.stop()
	if r := h.records(); len(r) != 1 || r[0].body != "partial line" {
		t.Fatalf("records %+v", r)
	}
}

func TestSyslogAttributes(t *testing.T) {
	h := start(t, Config{Addresses: []string{"tcp://127.0.0.1:0"}, Format: "syslog", Timezone: "UTC"}, 1)
	c := dial(t, "tcp", h.addr(0))
	msgs := []string{
		`<165>1 2003-10-11T22:14:15.003Z host1 evntslog 42 ID47 [ex@32473 iut="3"][flag] hello 5424`,
		`<34>Oct 11 22:14:15 host2 su[7]: hello 3164`,
		"not syslog \xff\xfe",
	}
	for _, m := range msgs {
		fmt.Fprintf(c, "%d %s", len(m), m) // octet counting, detected from the first frame
	}
	c.Close()
	waitFor(t, "3 messages", func() bool { return h.in.Stats().Messages.Load() == 3 })
	h.stop()
	r := h.records()
	if len(r) != 3 {
		t.Fatalf("%d records: %+v", len(r), r)
	}
	want5424 := map[string]string{"facility": "local4", "severity": "notice", "host": "host1", "app": "evntslog",
		"procid": "42", "msgid": "ID47", "sd.ex@32473.iut": "3", "sd.flag": "", "peer": c.LocalAddr().String()}
	if r[0].body != "hello 5424" || fmt.Sprint(r[0].attrs) != fmt.Sprint(want5424) ||
		r[0].ts != time.Date(2003, 10, 11, 22, 14, 15, 3e6, time.UTC).UnixNano() {
		t.Fatalf("5424: %+v", r[0])
	}
	if r[1].body != "hello 3164" || r[1].attrs["host"] != "host2" || r[1].attrs["app"] != "su" || r[1].attrs["procid"] != "7" ||
		r[1].attrs["facility"] != "auth" || r[1].attrs["severity"] != "crit" {
		t.Fatalf("3164: %+v", r[1])
	}
	if r[2].body != "not syslog \xff\xfe" || r[2].attrs["syslog_error"] != "bad PRI" {
		t.Fatalf("raw: %+v", r[2])
	}
	if n := h.in.Stats().ParseErrors.Load(); n != 1 {
		t.Fatalf("parse errors %d", n)
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		cfg  Config
		want string
	}{
		{Config{}, "addresses"},
		{Config{Addresses: []string{"127.0.0.1:514"}}, "no scheme"},
		{Config{Type: "tcp", Addresses: []string{"127.0.0.1"}}, "missing port"},
		{Config{Addresses: []string{"sctp://x:1"}}, "unknown scheme"},
		{Config{Addresses: []string{"unix://relative.sock"}}, "absolute path"},
		{Config{Addresses: []string{"tcp://:1"}, Format: "gelf"}, "format"},
		{Config{Addresses: []string{"tcp://:1"}, Framing: "nul"}, "framing"},
		{Config{Addresses: []string{"tcp://:1"}, SocketMode: "rw"}, "socket_mode"},
		{Config{Addresses: []string{"tcp://:1"}, MaxMessageBytes: -1}, "max_message_bytes"},
		{Config{Addresses: []string{"tcp://:1"}, Timezone: "Mars/Olympus"}, "timezone"},
		{Config{Addresses: []string{"tcp://:1"}, TLS: &TLSConfig{CertFile: "c"}}, "key_file"},
		{Config{Addresses: []string{"tcp://:1"}, TLS: &TLSConfig{CertFile: "c", KeyFile: "k", MinVersion: "1.0"}}, "min_version"},
	}
	for _, tt := range tests {
		err := tt.cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: error %v, want one about %s", tt.cfg, err, tt.want)
		}
	}
	if err := (Config{Type: "udp", Addresses: []string{"127.0.0.1:514"}}).Validate(); err != nil {
		t.Fatal(err)
	}
}
