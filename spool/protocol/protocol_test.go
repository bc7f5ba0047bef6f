package protocol

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestHelloRoundTrip(t *testing.T) {
	ch := ClientHello{Version: Version, AgentID: [16]byte{1, 2, 3}, Capabilities: 5, Token: []byte("s3cret")}
	b, err := AppendClientHello(nil, &ch)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ReadClientHello(bytes.NewReader(b))
	if err != nil || got.AgentID != ch.AgentID || string(got.Token) != "s3cret" || got.Capabilities != 5 {
		t.Fatalf("client hello: %+v, %v", got, err)
	}
	sh := ServerHello{Version: Version, Accepted: true, MaxFrame: 1 << 20, Window: 4 << 20, Heartbeat: 5000}
	gs, err := ReadServerHello(bytes.NewReader(AppendServerHello(nil, &sh)))
	if err != nil || gs != sh {
		t.Fatalf("server hello: %+v, %v", gs, err)
	}
	refuse := ServerHello{Version: Version, Reason: "bad token"}
	gs, err = ReadServerHello(bytes.NewReader(AppendServerHello(nil, &refuse)))
	if err != nil || gs.Accepted || gs.Reason != "bad token" {
		t.Fatalf("refusal: %+v, %v", gs, err)
	}
}

func TestClientHelloRefusals(t *testing.T) {
	good, _ := AppendClientHello(nil, &ClientHello{Version: Version})
	tooLong := append([]byte(nil), good...)
	tooLong[25], tooLong[26] = 0xff, 0xff
	for _, tc := range []struct {
		name string
		in   []byte
		want error
	}{
		{"magic", append([]byte("HTTP/"), good[5:]...), ErrMagic},
		{"version", append(append([]byte(nil), good[:4]...), append([]byte{9}, good[5:]...)...), ErrVersion},
		{"token length", tooLong, ErrTooLong},
		{"truncated", good[:10], io.ErrUnexpectedEOF},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ReadClientHello(bytes.NewReader(tc.in)); !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
		})
	}
}

func TestFrameRoundTrip(t *testing.T) {
	payload := bytes.Repeat([]byte{7}, 1000)
	var b []byte
	b = append(AppendDataHeader(b, &DataHeader{Stream: "app", Partition: 3, First: 10, Last: 19, Len: uint32(len(payload))}), payload...)
	b = AppendAck(b, &Ack{Stream: "app", Partition: 3, Last: 19})
	b = AppendError(b, &ErrorFrame{Code: CodeAuth, Message: "no"})
	b = AppendHeartbeat(b)
	r := NewReader(bufio.NewReader(bytes.NewReader(b)), 1<<20)
	f, err := r.ReadFrame()
	if err != nil || f.Type != TypeData || f.Data.Stream != "app" || f.Data.Partition != 3 ||
		f.Data.First != 10 || f.Data.Last != 19 || !bytes.Equal(f.Payload, payload) {
		t.Fatalf("data: %+v %v", f.Data, err)
	}
	if f, err = r.ReadFrame(); err != nil || f.Ack != (Ack{"app", 3, 19}) {
		t.Fatalf("ack: %+v %v", f.Ack, err)
	}
	if f, err = r.ReadFrame(); err != nil || f.Error != (ErrorFrame{CodeAuth, "no"}) {
		t.Fatalf("error: %+v %v", f.Error, err)
	}
	if f, err = r.ReadFrame(); err != nil || f.Type != TypeHeartbeat {
		t.Fatalf("heartbeat: %+v %v", f, err)
	}
	if _, err = r.ReadFrame(); err != io.EOF {
		t.Fatalf("end: %v", err)
	}
}

func TestFrameRefusals(t *testing.T) {
	data := AppendDataHeader(nil, &DataHeader{Stream: "s", First: 1, Last: 1, Len: 4})
	data = append(data, 1, 2, 3, 4)
	badLen := append([]byte(nil), data...)
	badLen[len(badLen)-8] = 9 // payload length field says 9, frame holds 4
	reversed := AppendDataHeader(nil, &DataHeader{Stream: "s", First: 5, Last: 1, Len: 1})
	reversed = append(reversed, 0)
	huge := []byte{byte(TypeData), 0xff, 0xff, 0xff, 0x7f}
	for _, tc := range []struct {
		name string
		in   []byte
		want error
	}{
		{"too large", huge, ErrTooLarge},
		{"unknown type", []byte{99, 0, 0, 0, 0}, ErrMalformed},
		{"payload length", badLen, ErrMalformed},
		{"offsets reversed", reversed, ErrMalformed},
		{"empty stream", []byte{byte(TypeAck), 13, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, ErrMalformed},
		{"heartbeat body", []byte{byte(TypeHeartbeat), 1, 0, 0, 0, 0}, ErrMalformed},
		{"truncated body", data[:len(data)-2], io.ErrUnexpectedEOF},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := NewReader(bufio.NewReader(bytes.NewReader(tc.in)), 1<<20)
			if _, err := r.ReadFrame(); !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
		})
	}
}

// A length field alone must not cost memory: a 1 GiB claim followed by a
// few bytes grows the buffer by one chunk at most.
func TestNoOverAllocation(t *testing.T) {
	in := []byte{byte(TypeData), 0, 0, 0, 0x40, 'x', 'y'}
	r := NewReader(bufio.NewReader(bytes.NewReader(in)), 1<<31-1)
	if _, err := r.ReadFrame(); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("err %v", err)
	}
	if cap(r.buf) > readChunk {
		t.Fatalf("buffer grew to %d bytes for 2 received", cap(r.buf))
	}
}

func TestErrorMessageCut(t *testing.T) {
	b := AppendError(nil, &ErrorFrame{Code: CodeInternal, Message: strings.Repeat("x", 5000)})
	f, _, err := DecodeFrame(b, 1<<20)
	if err != nil || len(f.Error.Message) != MaxReasonLen {
		t.Fatalf("%v, %d", err, len(f.Error.Message))
	}
}

func FuzzDecodeFrame(f *testing.F) {
	f.Add(append(AppendDataHeader(nil, &DataHeader{Stream: "app", Partition: 1, First: 0, Last: 2, Len: 3}), 1, 2, 3))
	f.Add(AppendAck(nil, &Ack{Stream: "app", Partition: 1, Last: 2}))
	f.Add(AppendError(nil, &ErrorFrame{Code: CodeBadBatch, Message: "crc"}))
	f.Add(AppendHeartbeat(nil))
	f.Add([]byte{byte(TypeData), 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, n, err := DecodeFrame(b, 1<<16)
		if err != nil {
			return
		}
		if n > len(b) || n < FrameHeaderSize {
			t.Fatalf("size %d of %d", n, len(b))
		}
		if fr.Type == TypeData && int(fr.Data.Len) != len(fr.Payload) {
			t.Fatalf("payload %d, header says %d", len(fr.Payload), fr.Data.Len)
		}
		// What decodes re-encodes to the same bytes.
		var again []byte
		switch fr.Type {
		case TypeData:
			again = append(AppendDataHeader(nil, &fr.Data), fr.Payload...)
		case TypeAck:
			again = AppendAck(nil, &fr.Ack)
		case TypeError:
			again = AppendError(nil, &fr.Error)
		case TypeHeartbeat:
			again = AppendHeartbeat(nil)
		}
		if !bytes.Equal(again, b[:n]) {
			t.Fatalf("re-encoded %x, decoded from %x", again, b[:n])
		}
	})
}

func FuzzReadClientHello(f *testing.F) {
	h, _ := AppendClientHello(nil, &ClientHello{Version: Version, AgentID: [16]byte{9}, Token: []byte("tok")})
	f.Add(h)
	f.Add([]byte("CPST\x02"))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := ReadClientHello(bytes.NewReader(b))
		if err == nil && len(got.Token) > MaxTokenLen {
			t.Fatalf("token of %d bytes", len(got.Token))
		}
	})
}
