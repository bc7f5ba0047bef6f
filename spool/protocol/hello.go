package protocol

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Magic opens every connection, in both directions: "CPST".
var Magic = [4]byte{'C', 'P', 'S', 'T'}

// Version is the protocol version this package speaks.
const Version byte = 1

// MaxTokenLen and MaxReasonLen bound the variable parts of the hellos, so a
// hostile peer cannot make a decoder allocate more than a few KiB before it
// has authenticated.
const (
	MaxTokenLen  = 1024
	MaxReasonLen = 1024
)

// Capabilities are feature bits a client offers and a server accepts. None
// are defined in version 1; unknown bits are ignored (the server answers with
// the subset it accepted).
type Capabilities uint32

// ClientHello is the first message of a connection (docs/protocol.md):
//
//	off size field
//	  0    4 magic "CPST"
//	  4    1 version
//	  5   16 agent id
//	 21    4 capabilities
//	 25    2 token length n (<= 1024)
//	 27    n token
type ClientHello struct {
	Version      byte
	AgentID      [16]byte
	Capabilities Capabilities
	Token        []byte
}

const clientHelloFixed = 27

// ServerHello answers a ClientHello:
//
//	off size field
//	  0    4 magic "CPST"
//	  4    1 version (the server's; on refusal, the highest it speaks)
//	  5    1 status: 0 accepted, 1 refused
//	  6    4 capabilities accepted
//	 10    4 max frame bytes (whole frame, header included)
//	 14    4 window bytes (unacknowledged DATA bytes in flight)
//	 18    4 heartbeat interval in milliseconds
//	 22    2 reason length n (<= 1024)
//	 24    n reason (UTF-8, empty when accepted)
type ServerHello struct {
	Version      byte
	Accepted     bool
	Capabilities Capabilities
	MaxFrame     uint32
	Window       uint32
	Heartbeat    uint32 // milliseconds
	Reason       string
}

const serverHelloFixed = 24

// Errors of the hello exchange.
var (
	ErrMagic   = errors.New("protocol: bad magic")
	ErrVersion = errors.New("protocol: unsupported version")
	ErrTooLong = errors.New("protocol: field too long")
)

// AppendClientHello appends the encoded hello to b.
func AppendClientHello(b []byte, h *ClientHello) ([]byte, error) {
	if len(h.Token) > MaxTokenLen {
		return b, fmt.Errorf("token of %d bytes: %w", len(h.Token), ErrTooLong)
	}
	b = append(b, Magic[:]...)
	b = append(b, h.Version)
	b = append(b, h.AgentID[:]...)
	b = binary.LittleEndian.AppendUint32(b, uint32(h.Capabilities))
	b = binary.LittleEndian.AppendUint16(b, uint16(len(h.Token)))
	return append(b, h.Token...), nil
}

// ReadClientHello reads a hello from r. A version other than Version is
// returned with the hello filled as far as it could be, and ErrVersion, so the
// server can refuse it politely; the layout after the version byte is only
// known for Version.
func ReadClientHello(r io.Reader) (ClientHello, error) {
	var h ClientHello
	var fixed [clientHelloFixed]byte
	if _, err := io.ReadFull(r, fixed[:5]); err != nil {
		return h, fmt.Errorf("read client hello: %w", err)
	}
	if [4]byte(fixed[:4]) != Magic {
		return h, ErrMagic
	}
	h.Version = fixed[4]
	if h.Version != Version {
		return h, fmt.Errorf("%w %d", ErrVersion, h.Version)
	}
	if _, err := io.ReadFull(r, fixed[5:]); err != nil {
		return h, fmt.Errorf("read client hello: %w", err)
	}
	copy(h.AgentID[:], fixed[5:21])
	h.Capabilities = Capabilities(binary.LittleEndian.Uint32(fixed[21:]))
	n := int(binary.LittleEndian.Uint16(fixed[25:]))
	if n > MaxTokenLen {
		return h, fmt.Errorf("token of %d bytes: %w", n, ErrTooLong)
	}
	if n > 0 {
		h.Token = make([]byte, n)
		if _, err := io.ReadFull(r, h.Token); err != nil {
			return h, fmt.Errorf("read client hello token: %w", err)
		}
	}
	return h, nil
}

// AppendServerHello appends the encoded hello to b; a reason longer than
// MaxReasonLen is cut.
func AppendServerHello(b []byte, h *ServerHello) []byte {
	reason := h.Reason
	if len(reason) > MaxReasonLen {
		reason = reason[:MaxReasonLen]
	}
	b = append(b, Magic[:]...)
	b = append(b, h.Version)
	if h.Accepted {
		b = append(b, 0)
	} else {
		b = append(b, 1)
	}
	b = binary.LittleEndian.AppendUint32(b, uint32(h.Capabilities))
	b = binary.LittleEndian.AppendUint32(b, h.MaxFrame)
	b = binary.LittleEndian.AppendUint32(b, h.Window)
	b = binary.LittleEndian.AppendUint32(b, h.Heartbeat)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(reason)))
	return append(b, reason...)
}

// ReadServerHello reads a server hello from r. A refusal is returned as a
// hello with Accepted false and no error.
func ReadServerHello(r io.Reader) (ServerHello, error) {
	var h ServerHello
	var fixed [serverHelloFixed]byte
	if _, err := io.ReadFull(r, fixed[:]); err != nil {
		return h, fmt.Errorf("read server hello: %w", err)
	}
	if [4]byte(fixed[:4]) != Magic {
		return h, ErrMagic
	}
	h.Version = fixed[4]
	switch fixed[5] {
	case 0:
		h.Accepted = true
	case 1:
	default:
		return h, fmt.Errorf("read server hello: status %d: %w", fixed[5], ErrMalformed)
	}
	h.Capabilities = Capabilities(binary.LittleEndian.Uint32(fixed[6:]))
	h.MaxFrame = binary.LittleEndian.Uint32(fixed[10:])
	h.Window = binary.LittleEndian.Uint32(fixed[14:])
	h.Heartbeat = binary.LittleEndian.Uint32(fixed[18:])
	n := int(binary.LittleEndian.Uint16(fixed[22:]))
	if n > MaxReasonLen {
		return h, fmt.Errorf("reason of %d bytes: %w", n, ErrTooLong)
	}
	if n > 0 {
		reason := make([]byte, n)
		if _, err := io.ReadFull(r, reason); err != nil {
			return h, fmt.Errorf("read server hello reason: %w", err)
		}
		h.Reason = string(reason)
	}
	if h.Accepted && h.Version != Version {
		return h, fmt.Errorf("%w %d", ErrVersion, h.Version)
	}
	if h.Accepted && (h.MaxFrame < MinMaxFrame || h.Window == 0) {
		return h, fmt.Errorf("read server hello: max frame %d, window %d: %w", h.MaxFrame, h.Window, ErrMalformed)
	}
	return h, nil
}
