package protocol

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"testing"
)

// FuzzReadFrame feeds a hostile byte stream to the production frame reader:
// never a panic, memory grows only with the bytes that arrived, every frame
// it returns re-encodes to the bytes it consumed, and it stops with a
// protocol error or an I/O error, nothing else.
func FuzzReadFrame(f *testing.F) {
	data := append(AppendDataHeader(nil, &DataHeader{Stream: "app", Partition: 1, First: 0, Last: 2, Len: 3}), 1, 2, 3)
	f.Add(append(append(data, AppendAck(nil, &Ack{Stream: "app", Partition: 1, Last: 2})...), AppendHeartbeat(nil)...))
	f.Add(AppendError(nil, &ErrorFrame{Code: CodeBadBatch, Message: "crc"}))
	f.Add([]byte{byte(TypeData), 0xff, 0xff, 0xff, 0x7f})       // a length alone, far over the max
	f.Add([]byte{byte(TypeData), 0x00, 0x00, 0x01, 0x00, 1, 2}) // 64 KiB announced, 2 bytes sent
	f.Add(data[:len(data)-1])
	const maxFrame = 1 << 20
	f.Fuzz(func(t *testing.T, b []byte) {
		in := bytes.NewReader(b)
		r := NewReader(bufio.NewReader(in), maxFrame)
		consumed := 0
		for {
			fr, err := r.ReadFrame()
			if cap(r.buf) > 2*len(b)+readChunk {
				t.Fatalf("buffer of %d bytes for %d received", cap(r.buf), len(b))
			}
			if err != nil {
				if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrTooLarge) &&
					!errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Fatalf("unexpected error class: %v", err)
				}
				return
			}
			var again []byte
			switch fr.Type {
			case TypeData:
				if int(fr.Data.Len) != len(fr.Payload) {
					t.Fatalf("payload %d, header says %d", len(fr.Payload), fr.Data.Len)
				}
				again = append(AppendDataHeader(nil, &fr.Data), fr.Payload...)
			case TypeAck:
				again = AppendAck(nil, &fr.Ack)
			case TypeError:
				again = AppendError(nil, &fr.Error)
			case TypeHeartbeat:
				again = AppendHeartbeat(nil)
			default:
				t.Fatalf("frame of unknown type %d returned", fr.Type)
			}
			if consumed+len(again) > len(b) || !bytes.Equal(again, b[consumed:consumed+len(again)]) {
				t.Fatalf("frame %v re-encodes to %x, not the bytes it was read from", fr.Type, again)
			}
			consumed += len(again)
		}
	})
}

// FuzzReadServerHello: a hostile answer to a client hello never panics the
// client, never yields an accepted hello it could not work with, and what
// it accepts re-encodes to the bytes it read.
func FuzzReadServerHello(f *testing.F) {
	f.Add(AppendServerHello(nil, &ServerHello{Version: Version, Accepted: true, MaxFrame: 1 << 20, Window: 4 << 20, Heartbeat: 5000}))
	f.Add(AppendServerHello(nil, &ServerHello{Version: Version, Reason: "bad token"}))
	f.Add(AppendServerHello(nil, &ServerHello{Version: 9, Accepted: true, MaxFrame: 1 << 20, Window: 1}))
	f.Add([]byte("HTTP/1.1 400 Bad Request\r\n\r\n"))
	f.Add([]byte("CPST\x01\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		in := bytes.NewReader(b)
		h, err := ReadServerHello(in)
		if err != nil {
			return
		}
		if len(h.Reason) > MaxReasonLen {
			t.Fatalf("reason of %d bytes", len(h.Reason))
		}
		if h.Accepted && (h.Version != Version || h.MaxFrame < MinMaxFrame || h.Window == 0) {
			t.Fatalf("unusable hello accepted: %+v", h)
		}
		read := len(b) - in.Len()
		if again := AppendServerHello(nil, &h); !bytes.Equal(again, b[:read]) {
			t.Fatalf("re-encoded %x, read %x", again, b[:read])
		}
	})
}
