package protocol

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// FrameType is the first byte of every frame after the hellos.
type FrameType byte

// Frame types (docs/protocol.md).
const (
	TypeData      FrameType = 1 // client → server: whole batches of one partition
	TypeAck       FrameType = 2 // server → client: a DATA frame is in the spool
	TypeError     FrameType = 3 // either way: what went wrong; the sender closes
	TypeHeartbeat FrameType = 4 // either way: empty; a client's is echoed
)

func (t FrameType) String() string {
	switch t {
	case TypeData:
		return "DATA"
	case TypeAck:
		return "ACK"
	case TypeError:
		return "ERROR"
	case TypeHeartbeat:
		return "HEARTBEAT"
	}
	return fmt.Sprintf("type(%d)", byte(t))
}

// Frame layout: a 5-byte header, then the body.
//
//	off size field
//	  0    1 type
//	  1    4 body length
//	  5    - body
const FrameHeaderSize = 5

// MinMaxFrame is the smallest max frame a server may announce: room for the
// largest DATA header and a small batch.
const MinMaxFrame = 64 << 10

// MaxStreamLen bounds a stream name on the wire.
const MaxStreamLen = 255

// DataHeader is the header of a DATA body, followed by Len payload bytes:
//
//	off size field
//	  0    1 stream name length n (1..255)
//	  1    n stream name
//	1+n    4 partition
//	5+n    8 first offset: base offset of the first batch
//	13+n   8 last offset: offset of the last record of the last batch
//	21+n   4 payload length
//	25+n   - payload: whole batches exactly as in the sender's segment
type DataHeader struct {
	Stream    string
	Partition uint32
	First     uint64
	Last      uint64
	Len       uint32
}

const dataFixed = 25

// DataHeaderSize is the size of the frame header plus a DATA header for a
// stream name of n bytes: what precedes the payload on the wire.
func DataHeaderSize(n int) int { return FrameHeaderSize + dataFixed + n }

// Ack says the server's spool holds every record of the partition up to and
// including Last:
//
//	off size field
//	  0    1 stream name length n (1..255)
//	  1    n stream name
//	1+n    4 partition
//	5+n    8 last offset
type Ack struct {
	Stream    string
	Partition uint32
	Last      uint64
}

const ackFixed = 13

// ErrorCode says what class of problem an ERROR frame reports.
type ErrorCode uint16

// Error codes (docs/protocol.md).
const (
	CodeMalformed  ErrorCode = 1 // frame or hello does not decode
	CodeVersion    ErrorCode = 2 // protocol version not spoken
	CodeAuth       ErrorCode = 3 // token (or certificate) refused
	CodeTooLarge   ErrorCode = 4 // frame over the announced max frame
	CodeBadBatch   ErrorCode = 5 // a batch failed its length or CRC check
	CodeInternal   ErrorCode = 6 // the receiver could not store the data
	CodeUnexpected ErrorCode = 7 // a frame type not allowed in this direction
	CodeShutdown   ErrorCode = 8 // the receiver is stopping
)

// ErrorFrame is an ERROR body:
//
//	off size field
//	  0    2 code
//	  2    2 message length n (<= 1024)
//	  4    n message (UTF-8)
type ErrorFrame struct {
	Code    ErrorCode
	Message string
}

func (e *ErrorFrame) Error() string {
	return fmt.Sprintf("peer error %d: %s", e.Code, e.Message)
}

// Decoding errors.
var (
	ErrMalformed = errors.New("protocol: malformed frame")
	ErrTooLarge  = errors.New("protocol: frame too large")
)

// AppendDataHeader appends the frame header and DATA header for a payload of
// h.Len bytes; the caller sends the payload right after it.
func AppendDataHeader(b []byte, h *DataHeader) []byte {
	n := len(h.Stream)
	b = append(b, byte(TypeData))
	b = binary.LittleEndian.AppendUint32(b, uint32(dataFixed+n)+h.Len)
	b = append(b, byte(n))
	b = append(b, h.Stream...)
	b = binary.LittleEndian.AppendUint32(b, h.Partition)
	b = binary.LittleEndian.AppendUint64(b, h.First)
	b = binary.LittleEndian.AppendUint64(b, h.Last)
	return binary.LittleEndian.AppendUint32(b, h.Len)
}

// AppendAck appends an ACK frame.
func AppendAck(b []byte, a *Ack) []byte {
	n := len(a.Stream)
	b = append(b, byte(TypeAck))
	b = binary.LittleEndian.AppendUint32(b, uint32(ackFixed+n))
	b = append(b, byte(n))
	b = append(b, a.Stream...)
	b = binary.LittleEndian.AppendUint32(b, a.Partition)
	return binary.LittleEndian.AppendUint64(b, a.Last)
}

// AppendError appends an ERROR frame; a message longer than MaxReasonLen is cut.
func AppendError(b []byte, e *ErrorFrame) []byte {
	msg := e.Message
	if len(msg) > MaxReasonLen {
		msg = msg[:MaxReasonLen]
	}
	b = append(b, byte(TypeError))
	b = binary.LittleEndian.AppendUint32(b, uint32(4+len(msg)))
	b = binary.LittleEndian.AppendUint16(b, uint16(e.Code))
	b = binary.LittleEndian.AppendUint16(b, uint16(len(msg)))
	return append(b, msg...)
}

// AppendHeartbeat appends a HEARTBEAT frame.
func AppendHeartbeat(b []byte) []byte {
	return append(b, byte(TypeHeartbeat), 0, 0, 0, 0)
}

// Frame is one decoded frame. Payload points into the Reader's buffer and
// is valid until the next ReadFrame.
type Frame struct {
	Type    FrameType
	Data    DataHeader // TypeData
	Payload []byte     // TypeData
	Ack     Ack        // TypeAck
	Error   ErrorFrame // TypeError
}

// Reader reads frames from a connection, refusing any over its max frame
// size before reading its body, and growing its buffer only as body bytes
// actually arrive.
type Reader struct {
	r        *bufio.Reader
	maxFrame int
	buf      []byte
}

// readChunk bounds how far the buffer grows ahead of the bytes received.
const readChunk = 256 << 10

// NewReader returns a Reader for frames of at most maxFrame bytes, header
// included.
func NewReader(r *bufio.Reader, maxFrame int) *Reader {
	return &Reader{r: r, maxFrame: maxFrame}
}

// ReadFrame reads and decodes the next frame. Errors wrapping ErrTooLarge
// or ErrMalformed mean the peer broke the protocol; others are I/O errors.
func (r *Reader) ReadFrame() (Frame, error) {
	var f Frame
	var hdr [FrameHeaderSize]byte
	if _, err := io.ReadFull(r.r, hdr[:]); err != nil {
		return f, err
	}
	f.Type = FrameType(hdr[0])
	n := int64(binary.LittleEndian.Uint32(hdr[1:]))
	if n+FrameHeaderSize > int64(r.maxFrame) {
		return f, fmt.Errorf("%s frame of %d bytes, max %d: %w", f.Type, n+FrameHeaderSize, r.maxFrame, ErrTooLarge)
	}
	body, err := r.readBody(int(n))
	if err != nil {
		return f, err
	}
	return f, decodeBody(&f, body)
}

// readBody reads n bytes into the reused buffer, growing it by at most
// readChunk beyond what has arrived, so a length field alone never costs
// memory.
func (r *Reader) readBody(n int) ([]byte, error) {
	r.buf = r.buf[:0]
	for len(r.buf) < n {
		want := min(n-len(r.buf), readChunk)
		if cap(r.buf)-len(r.buf) < want {
			grown := make([]byte, len(r.buf), len(r.buf)+max(want, min(n-len(r.buf), cap(r.buf))))
			copy(grown, r.buf)
			r.buf = grown
		}
		m, err := io.ReadFull(r.r, r.buf[len(r.buf):len(r.buf)+want])
		r.buf = r.buf[:len(r.buf)+m]
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, fmt.Errorf("read frame body: %w", err)
		}
	}
	return r.buf, nil
}

// Release drops a buffer grown past keep bytes, so one large frame does not
// pin memory for the life of a connection.
func (r *Reader) Release(keep int) {
	if cap(r.buf) > keep {
		r.buf = nil
	}
}

// DecodeFrame decodes one whole frame held in b (header and body), for
// tests and fuzzing; it returns the frame and its size.
func DecodeFrame(b []byte, maxFrame int) (Frame, int, error) {
	var f Frame
	if len(b) < FrameHeaderSize {
		return f, 0, fmt.Errorf("frame header: %w", ErrMalformed)
	}
	f.Type = FrameType(b[0])
	n := int64(binary.LittleEndian.Uint32(b[1:]))
	if n+FrameHeaderSize > int64(maxFrame) {
		return f, 0, fmt.Errorf("%s frame of %d bytes: %w", f.Type, n+FrameHeaderSize, ErrTooLarge)
	}
	if int64(len(b)-FrameHeaderSize) < n {
		return f, 0, fmt.Errorf("%s frame truncated: %w", f.Type, ErrMalformed)
	}
	size := FrameHeaderSize + int(n)
	return f, size, decodeBody(&f, b[FrameHeaderSize:size])
}

func decodeBody(f *Frame, body []byte) error {
	switch f.Type {
	case TypeData:
		return decodeData(f, body)
	case TypeAck:
		return decodeAck(&f.Ack, body)
	case TypeError:
		return decodeError(&f.Error, body)
	case TypeHeartbeat:
		if len(body) != 0 {
			return fmt.Errorf("heartbeat with %d body bytes: %w", len(body), ErrMalformed)
		}
		return nil
	}
	return fmt.Errorf("unknown frame type %d: %w", byte(f.Type), ErrMalformed)
}

// decodeStream reads the length-prefixed stream name at the start of b.
func decodeStream(b []byte) (string, []byte, error) {
	if len(b) < 1 {
		return "", nil, fmt.Errorf("stream name: %w", ErrMalformed)
	}
	n := int(b[0])
	if n == 0 || len(b) < 1+n {
		return "", nil, fmt.Errorf("stream name of %d bytes: %w", n, ErrMalformed)
	}
	return string(b[1 : 1+n]), b[1+n:], nil
}

func decodeData(f *Frame, body []byte) error {
	stream, rest, err := decodeStream(body)
	if err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	if len(rest) < dataFixed-1 {
		return fmt.Errorf("DATA header truncated: %w", ErrMalformed)
	}
	h := &f.Data
	h.Stream = stream
	h.Partition = binary.LittleEndian.Uint32(rest)
	h.First = binary.LittleEndian.Uint64(rest[4:])
	h.Last = binary.LittleEndian.Uint64(rest[12:])
	h.Len = binary.LittleEndian.Uint32(rest[20:])
	payload := rest[24:]
	if int64(len(payload)) != int64(h.Len) {
		return fmt.Errorf("DATA payload length %d, frame holds %d: %w", h.Len, len(payload), ErrMalformed)
	}
	if h.Len == 0 || h.Last < h.First {
		return fmt.Errorf("DATA offsets %d..%d with %d bytes: %w", h.First, h.Last, h.Len, ErrMalformed)
	}
	f.Payload = payload
	return nil
}

func decodeAck(a *Ack, body []byte) error {
	stream, rest, err := decodeStream(body)
	if err != nil {
		return fmt.Errorf("ACK: %w", err)
	}
	if len(rest) != ackFixed-1 {
		return fmt.Errorf("ACK of %d bytes: %w", len(body), ErrMalformed)
	}
	a.Stream = stream
	a.Partition = binary.LittleEndian.Uint32(rest)
	a.Last = binary.LittleEndian.Uint64(rest[4:])
	return nil
}

func decodeError(e *ErrorFrame, body []byte) error {
	if len(body) < 4 {
		return fmt.Errorf("ERROR truncated: %w", ErrMalformed)
	}
	e.Code = ErrorCode(binary.LittleEndian.Uint16(body))
	n := int(binary.LittleEndian.Uint16(body[2:]))
	if n > MaxReasonLen || len(body) != 4+n {
		return fmt.Errorf("ERROR message of %d bytes in %d: %w", n, len(body), ErrMalformed)
	}
	e.Message = string(body[4:])
	return nil
}
