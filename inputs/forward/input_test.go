package forward

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/capstan-agent/capstan/spool"
	"github.com/capstan-agent/capstan/spool/batch"
	"github.com/capstan-agent/capstan/spool/protocol"
	"github.com/capstan-agent/capstan/spool/spooltest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// start runs a forward input on a fresh spool with one stream "core" of
// partitions, stopped at the end of the test.
func start(t *testing.T, cfg Config, partitions int) (*Input, *spool.Stream) {
	t.Helper()
	s := spooltest.Open(t, t.TempDir(), spool.Options{}, map[string]int{"core": partitions})
	st := spooltest.Stream(t, s, "core")
	cfg.Address = "127.0.0.1:0"
	in, err := New(cfg, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- in.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	return in, st
}

type client struct {
	conn net.Conn
	r    *protocol.Reader
}

// dial connects and exchanges hellos; the server's hello is returned.
func dial(t *testing.T, in *Input, hello []byte) (*client, protocol.ServerHello) {
	t.Helper()
	c, err := net.Dial("tcp", in.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(time.Minute))
	if _, err := c.Write(hello); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	sh, err := protocol.ReadServerHello(br)
	if err != nil {
		t.Fatalf("server hello: %v", err)
	}
	return &client{conn: c, r: protocol.NewReader(br, 1<<20)}, sh
}

func hello(token string) []byte {
	b, _ := protocol.AppendClientHello(nil, &protocol.ClientHello{Version: protocol.Version, AgentID: [16]byte{0xed, 0x9e}, Token: []byte(token)})
	return b
}

// frame builds a DATA frame of the batches, giving them consecutive edge
// base offsets from first, as the edge spool would hold them.
func frame(stream string, partition uint32, first uint64, batches ...[]byte) []byte {
	var payload []byte
	next := first
	for _, b := range batches {
		b = append([]byte(nil), b...)
		batch.SetBaseOffset(b, next)
		h, _ := batch.ParseHeader(b)
		next += uint64(h.Count)
		payload = append(payload, b...)
	}
	out := protocol.AppendDataHeader(nil, &protocol.DataHeader{Stream: stream, Partition: partition, First: first, Last: next - 1, Len: uint32(len(payload))})
	return append(out, payload...)
}

func (c *client) send(t *testing.T, b []byte) protocol.Frame {
	t.Helper()
	if _, err := c.conn.Write(b); err != nil {
		t.Fatal(err)
	}
	f, err := c.r.ReadFrame()
	if err != nil {
		t.Fatalf("answer: %v", err)
	}
	return f
}

func records(st *spool.Stream) (n int, bodies []string) {
	for _, p := range st.Partitions() {
		b, _ := spooltest.ReadBodies(p)
		bodies = append(bodies, b...)
		n += int(p.NextOffset())
	}
	return n, bodies
}

func TestStoreAckAndDropResend(t *testing.T) {
	in, st := start(t, Config{Token: "tok"}, 3)
	c, sh := dial(t, in, hello("tok"))
	if !sh.Accepted || sh.MaxFrame != DefaultMaxFrameBytes || sh.Window != DefaultWindowBytes {
		t.Fatalf("hello %+v", sh)
	}
	withID := spooltest.Batch(77, "file", 0, 2) // an input's producer: kept
	noID := spooltest.Batch(0, "udp", 0, 3)     // no producer: stamped by the input
	fr := frame("edge", 1, 10, withID, noID)
	f := c.send(t, fr)
	if f.Type != protocol.TypeAck || f.Ack != (protocol.Ack{Stream: "edge", Partition: 1, Last: 14}) {
		t.Fatalf("answer %+v", f)
	}
	// The same frame again — a sender that lost our ACK — is acknowledged
	// and stored nothing; so is a frame overlapping it on a new connection.
	if f = c.send(t, fr); f.Type != protocol.TypeAck {
		t.Fatalf("resend answer %+v", f)
	}
	c2, _ := dial(t, in, hello("tok"))
	if f = c2.send(t, frame("edge", 1, 12, noID, spooltest.Batch(0, "udp", 3, 1))); f.Type != protocol.TypeAck || f.Ack.Last != 15 {
		t.Fatalf("overlap answer %+v", f)
	}
	n, bodies := records(st)
	want := []string{"file-0", "file-1", "udp-0", "udp-1", "udp-2", "udp-3"}
	if n != len(want) || len(bodies) != len(want) {
		t.Fatalf("stored %d records %q, want %q", n, bodies, want)
	}
	for i := range want {
		if bodies[i] != want[i] {
			t.Fatalf("stored %q, want %q", bodies, want)
		}
	}
	if d := in.Stats().Duplicates.Load(); d != 3 {
		t.Fatalf("duplicates %d, want 3", d)
	}
	// Heartbeats are echoed.
	if f = c.send(t, protocol.AppendHeartbeat(nil)); f.Type != protocol.TypeHeartbeat {
		t.Fatalf("heartbeat answer %+v", f)
	}
}

func TestBadInputRefused(t *testing.T) {
	good := frame("edge", 0, 0, spooltest.Batch(0, "x", 0, 3))
	corrupt := append([]byte(nil), good...)
	corrupt[len(corrupt)-2] ^= 0xff // a record body byte: CRC mismatch
	badVersion := hello("tok")
	badVersion[4] = 9
	wrongBase := frame("edge", 0, 5, spooltest.Batch(0, "x", 0, 3))
	binary.LittleEndian.PutUint64(wrongBase[protocol.DataHeaderSize(4):], 0)
	lastLies := append([]byte(nil), good...)
	binary.LittleEndian.PutUint64(lastLies[protocol.FrameHeaderSize+1+4+4+8:], 7)
	oversized := []byte{byte(protocol.TypeData), 0, 0, 0, 0x10} // 256 MiB
	for _, tc := range []struct {
		name    string
		hello   []byte
		frame   []byte
		refused string             // refused hello reason
		code    protocol.ErrorCode // or ERROR frame code
	}{
		{name: "bad token", hello: hello("nope"), refused: "authentication failed"},
		{name: "no token", hello: hello(""), refused: "authentication failed"},
		{name: "wrong version", hello: badVersion, refused: "protocol version 9 not spoken; this server speaks 1"},
		{name: "not capstan", hello: []byte("GET / HTTP/1.1\r\n\r\n" + string(make([]byte, 20))), refused: "not a capstan forward client (bad magic)"},
		{name: "corrupt crc", frame: corrupt, code: protocol.CodeBadBatch},
		{name: "wrong base offset", frame: wrongBase, code: protocol.CodeBadBatch},
		{name: "last offset lies", frame: lastLies, code: protocol.CodeBadBatch},
		{name: "oversized", frame: oversized, code: protocol.CodeTooLarge},
		{name: "unknown type", frame: []byte{42, 0, 0, 0, 0}, code: protocol.CodeMalformed},
		{name: "ack from client", frame: protocol.AppendAck(nil, &protocol.Ack{Stream: "s", Last: 1}), code: protocol.CodeUnexpected},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in, st := start(t, Config{Token: "tok", MaxFrameBytes: 1 << 20}, 2)
			h := tc.hello
			if h == nil {
				h = hello("tok")
			}
			c, sh := dial(t, in, h)
			if tc.refused != "" {
				if sh.Accepted || sh.Reason != tc.refused {
					t.Fatalf("hello answer %+v, want refusal %q", sh, tc.refused)
				}
			} else {
				if !sh.Accepted {
					t.Fatalf("refused: %s", sh.Reason)
				}
				f := c.send(t, tc.frame)
				if f.Type != protocol.TypeError || f.Error.Code != tc.code {
					t.Fatalf("answer %+v, want error code %d", f, tc.code)
				}
				t.Logf("refused with: %s", f.Error.Message)
			}
			// The connection is closed and nothing reached the spool.
			// (a reset when the server closed with our bytes unread).
			if _, err := c.r.ReadFrame(); !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
				t.Fatalf("connection still open: %v", err)
			}
			if n, _ := records(st); n != 0 {
				t.Fatalf("%d records stored", n)
			}
		})
	}
}

func TestTruncatedFrameStoresNothing(t *testing.T) {
	in, st := start(t, Config{}, 1)
	c, _ := dial(t, in, hello(""))
	good := frame("edge", 0, 0, spooltest.Batch(0, "x", 0, 3))
	c.conn.Write(good[:len(good)-10])
	c.conn.(*net.TCPConn).CloseWrite()
	if _, err := c.r.ReadFrame(); !errors.Is(err, io.EOF) {
		t.Fatalf("answer to a truncated frame: %v", err)
	}
	if n, _ := records(st); n != 0 {
		t.Fatalf("%d records stored", n)
	}
}

func TestStampKeepsBatchValid(t *testing.T) {
	b := spooltest.Batch(0, "x", 0, 4)
	batch.SetBaseOffset(b, 100)
	src := source{agent: [16]byte{1}, stream: "s", partition: 2}
	if _, _, err := checkAndStamp(b, 100, 103, src); err != nil {
		t.Fatal(err)
	}
	h, _, err := batch.Check(b)
	if err != nil {
		t.Fatalf("stamped batch: %v", err)
	}
	if h.Producer != src.producer() || h.Sequence != 104 || h.Producer>>63 != 1 {
		t.Fatalf("producer %x sequence %d", h.Producer, h.Sequence)
	}
	// Another partition of the same agent is another producer.
	if (source{agent: [16]byte{1}, stream: "s", partition: 3}).producer() == h.Producer {
		t.Fatal("producers of two partitions collide")
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"defaults", Config{Address: ":0"}, true},
		{"no address", Config{}, false},
		{"tiny frame", Config{Address: ":0", MaxFrameBytes: 100}, false},
		{"cert without key", Config{Address: ":0", TLS: TLSConfig{CertFile: "a"}}, false},
		{"client ca without cert", Config{Address: ":0", TLS: TLSConfig{ClientCAFile: "a"}}, false},
	} {
		if err := tc.cfg.Validate(); (err == nil) != tc.ok {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}

func TestMaxConnections(t *testing.T) {
	in, _ := start(t, Config{MaxConnections: 1}, 1)
	c, sh := dial(t, in, hello(""))
	if !sh.Accepted {
		t.Fatalf("first client refused: %s", sh.Reason)
	}
	if _, sh = dial(t, in, hello("")); sh.Accepted || sh.Reason != "too many connections (max 1)" {
		t.Fatalf("second client: %+v", sh)
	}
	c.conn.Close()
	for deadline := time.Now().Add(time.Minute); in.Stats().Connections.Load() != 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited a minute for the input to see the first client leave; %d connections open", in.Stats().Connections.Load())
		}
	}
	if _, sh = dial(t, in, hello("")); !sh.Accepted {
		t.Fatalf("client after the first left refused: %s", sh.Reason)
	}
}

func TestCloseWithoutRun(t *testing.T) {
	s := spooltest.Open(t, t.TempDir(), spool.Options{}, map[string]int{"core": 1})
	in, err := New(Config{Address: "127.0.0.1:0"}, spooltest.Stream(t, s, "core"), nil)
	if err != nil {
		t.Fatal(err)
	}
	addr := in.Addr().String()
	if err := in.Close(); err != nil {
		t.Fatal(err)
	}
	if err := in.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	// The port is free again.
	again, err := New(Config{Address: addr}, spooltest.Stream(t, s, "core"), nil)
	if err != nil {
		t.Fatal(err)
	}
	again.Close()
}
