package forward

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/capstan-agent/capstan/spool/protocol"
)

// peekBytes is how much of a peer's first answer a failed hello keeps to
// say what answered.
const peekBytes = 64

// firstBytes passes reads through and keeps the first peekBytes of them.
type firstBytes struct {
	r   io.Reader
	buf [peekBytes]byte
	n   int
}

func (f *firstBytes) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	f.n += copy(f.buf[f.n:], p[:n])
	return n, err
}

func (f *firstBytes) bytes() []byte { return f.buf[:f.n] }

// more reads what else the peer sent within a moment, up to peekBytes, so
// that a message can show a whole first line (a hello reads 24 bytes).
func (f *firstBytes) more(conn net.Conn) {
	if f.n == 0 || f.n == peekBytes {
		return
	}
	conn.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	for f.n < peekBytes {
		n, err := conn.Read(f.buf[f.n:])
		f.n += n
		if err != nil {
			return
		}
	}
}

// explainHello says what answered when the hello exchange failed. A forward
// input answers a client hello at once with its own (docs/protocol.md), so
// the first bytes tell another service from a forward input: an HTTP
// server, a TLS server, something else — or nothing at all. got holds the
// first bytes read; wait is how long the exchange could take.
func explainHello(err error, got []byte, wait time.Duration) error {
	var rh tls.RecordHeaderError
	if errors.As(err, &rh) { // a TLS client met a peer that does not speak TLS
		hdr := rh.RecordHeader[:]
		switch {
		case bytes.HasPrefix(hdr, protocol.Magic[:]):
			return fmt.Errorf("the peer is a forward input without TLS: disable tls on this output, or enable it on the input: %w", err)
		case bytes.HasPrefix(hdr, []byte("HTTP/")):
			return fmt.Errorf("an HTTP server without TLS answered, not a forward input: %w", err)
		}
		return fmt.Errorf("the peer does not speak TLS; it answered %s: %w", quoteBytes(hdr), err)
	}
	switch {
	case len(got) >= len(protocol.Magic) && bytes.HasPrefix(got, protocol.Magic[:]):
		return err // a forward input, whose own answer says what is wrong
	case bytes.HasPrefix(got, []byte("HTTP/")):
		line := got
		if i := bytes.IndexAny(line, "\r\n"); i >= 0 {
			line = line[:i]
		}
		return fmt.Errorf("an HTTP server answered (%q), not a forward input: %w", line, err)
	case len(got) >= 2 && (got[0] == 0x15 || got[0] == 0x16) && got[1] == 0x03:
		kind := "alert"
		if got[0] == 0x16 {
			kind = "handshake"
		}
		return fmt.Errorf("a TLS server answered (a TLS %s record): enable tls on this output: %w", kind, err)
	case len(got) > 0:
		return fmt.Errorf("the peer is not a forward input: it answered %s: %w", quoteBytes(got), err)
	case isTimeout(err):
		return fmt.Errorf("no answer within %v: the peer took the connection and sent nothing back, where a forward input answers at once (is this the forward input's port?): %w", wait, err)
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET):
		return fmt.Errorf("the peer closed the connection without answering: not a forward input (a TLS server does this to plain text: does it want tls?): %w", err)
	}
	return err
}

// quoteBytes shows bytes escaped, and that there may be more.
func quoteBytes(b []byte) string {
	s := fmt.Sprintf("%q", b)
	if len(b) >= peekBytes {
		s += "…"
	}
	return s
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}
