package socket

import (
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Tests with clients nobody here wrote: util-linux logger and socat. CI
// installs them (.ci/run: bsdutils, socat).

func need(t *testing.T, tool string) {
	t.Helper()
	if _, err := exec.LookPath(tool); err != nil {
		t.Fatalf("%s is not installed (apt-get install bsdutils socat): %v", tool, err)
	}
}

func run(t *testing.T, stdin string, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

func hostPort(t *testing.T, a string) (string, string) {
	h, p, err := net.SplitHostPort(a)
	if err != nil {
		t.Fatal(err)
	}
	return h, p
}

func TestLogger(t *testing.T) {
	need(t, "logger")
	gram := sockPath(t, "log.sock")
	stream := sockPath(t, "stream.sock")
	h := start(t, Config{Format: "syslog", Timezone: "UTC",
		Addresses: []string{"tcp://127.0.0.1:0", "udp://127.0.0.1:0", "unixgram://" + gram, "unix://" + stream}}, 2)
	th, tp := hostPort(t, h.addr(0))
	uh, up := hostPort(t, h.addr(2))
	run(t, "", "logger", "--tcp", "-n", th, "-P", tp, "-t", "tcpapp", "-p", "daemon.warning", "over tcp")
	run(t, "", "logger", "--tcp", "-n", th, "-P", tp, "--rfc5424", "--octet-count", "--msgid", "M1",
		"--sd-id", "x@1", "--sd-param", `a="b\"c"`, "-t", "octapp", "octet counted")
	run(t, "", "logger", "--udp", "-n", uh, "-P", up, "--rfc3164", "-t", "udpapp", "--id=42", "over udp")
	run(t, "", "logger", "-u", gram, "-t", "local", "over unixgram")
	run(t, "", "logger", "-u", stream, "--socket-errors=on", "-t", "local", "over unix stream")
	run(t, "line 1\nline 2\nline 3\n", "logger", "--tcp", "-n", th, "-P", tp, "-t", "stdin")
	waitFor(t, "8 messages", func() bool { return h.in.Stats().Messages.Load() == 8 })
	h.stop()
	byBody := map[string]rec{}
	for _, r := range h.records() {
		byBody[r.body] = r
		if r.attrs["syslog_error"] != "" {
			t.Fatalf("logger's message did not parse: %+v", r)
		}
	}
	host, _ := os.Hostname()
	checks := []struct {
		body  string
		attrs map[string]string
	}{
		{"over tcp", map[string]string{"app": "tcpapp", "facility": "daemon", "severity": "warning", "host": host}},
		{"octet counted", map[string]string{"app": "octapp", "msgid": "M1", "sd.x@1.a": `b"c`, "sd.timeQuality.tzKnown": "1"}},
		{"over udp", map[string]string{"app": "udpapp", "procid": "42", "host": host}},
		{"over unixgram", map[string]string{"app": "local", "facility": "user", "severity": "notice"}},
		{"over unix stream", map[string]string{"app": "local"}},
		{"line 2", map[string]string{"app": "stdin"}},
	}
	for _, c := range checks {
		r, ok := byBody[c.body]
		if !ok {
			t.Fatalf("no record %q in %v", c.body, byBody)
		}
		for k, v := range c.attrs {
			if r.attrs[k] != v {
				t.Errorf("%q: %s=%q, want %q (all: %v)", c.body, k, r.attrs[k], v, r.attrs)
			}
		}
	}
	if !strings.HasPrefix(byBody["over tcp"].attrs["peer"], "127.0.0.1:") {
		t.Errorf("peer %q", byBody["over tcp"].attrs["peer"])
	}
}

func writeLines(t *testing.T, n int) string {
	var b strings.Builder
	for s := range n {
		fmt.Fprintf(&b, "%s\n", line(0, s))
	}
	path := filepath.Join(t.TempDir(), "lines.txt")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestSocat(t *testing.T) {
	need(t, "socat")
	p := newPKI(t)
	p.issue("server", "server", 10, x509.ExtKeyUsageServerAuth)
	p.issue("client", "client", 11, x509.ExtKeyUsageClientAuth)
	const lines = 20000
	file := writeLines(t, lines)
	tests := []struct {
		name string
		cfg  Config
		to   func(addr string) string
	}{
		{"tcp", Config{Addresses: []string{"tcp://127.0.0.1:0"}}, func(a string) string { return "TCP:" + a }},
		{"unix", Config{Addresses: []string{"unix://" + sockPath(t, "s.sock")}}, func(a string) string { return "UNIX-CONNECT:" + a }},
		{"tls", Config{Addresses: []string{"tcp://127.0.0.1:0"}, TLS: &TLSConfig{
			CertFile: p.path("server.crt"), KeyFile: p.path("server.key"), ClientCAFile: p.path("ca.pem")}},
			func(a string) string {
				return "OPENSSL:" + a + ",cafile=" + p.path("ca.pem") + ",cert=" + p.path("client.crt") + ",key=" + p.path("client.key")
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := start(t, tt.cfg, 2)
			run(t, "", "socat", "-u", "FILE:"+file, tt.to(h.addr(0)))
			waitFor(t, "all lines", func() bool { return h.in.Stats().Messages.Load() == lines })
			h.stop()
			checkExactlyOnce(t, h.records(), 1, lines)
		})
	}
	t.Run("udp", func(t *testing.T) {
		h := start(t, Config{Addresses: []string{"udp://127.0.0.1:0"}}, 1)
		for i := range 5 {
			run(t, "datagram "+strconv.Itoa(i)+"\n", "socat", "-u", "-", "UDP:"+h.addr(0))
		}
		waitFor(t, "5 datagrams", func() bool { return h.in.Stats().Messages.Load() == 5 })
		h.stop()
		if r := h.records(); len(r) != 5 || r[4].body != "datagram 4" {
			t.Fatalf("records %+v", r)
		}
	})
}
