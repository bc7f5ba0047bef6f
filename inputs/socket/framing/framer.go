package framing

import (
	"bytes"
	"fmt"
)

// Mode is how a stream is cut into messages.
type Mode uint8

const (
	// Auto decides per connection from its first bytes: octet counting when
	// they read "LEN <" (a length, a space and a syslog PRI), newline otherwise.
	Auto Mode = iota
	// Newline cuts at '\n'; a trailing '\r' is removed, empty lines are skipped.
	Newline
	// OctetCounting reads "LEN SP MSG" frames (RFC 6587 3.4.1). A frame that
	// does not start with a length is read as a line, as rsyslog does.
	OctetCounting
)

// ParseMode reads a mode from its configuration name.
func ParseMode(s string) (Mode, error) {
	switch s {
	case "", "auto":
		return Auto, nil
	case "newline":
		return Newline, nil
	case "octet_counting":
		return OctetCounting, nil
	}
	return Auto, fmt.Errorf("framing %q: want auto, newline or octet_counting", s)
}

func (m Mode) String() string {
	switch m {
	case Newline:
		return "newline"
	case OctetCounting:
		return "octet_counting"
	}
	return "auto"
}

// maxLenDigits bounds an octet count: ten digits are more than any limit.
const maxLenDigits = 10

// Overhead is what a buffer needs beyond the maximum message size: room
// for an octet-count header and the newline after a line.
const Overhead = maxLenDigits + 2

// Framer cuts one connection's bytes into messages. The caller reads into
// Space, reports with Commit, then takes messages with Next until it says
// no; a message is valid until the next Space. Messages longer than the
// maximum are cut to it and flagged; the rest of them is skipped.
type Framer struct {
	buf      []byte
	r, w     int
	max      int
	mode     Mode
	skipLine bool // dropping the rest of an overlong line
	discard  int  // bytes of an overlong octet-counted frame still to drop
	eof      bool
}

// New makes a framer for messages of at most max bytes. It holds no buffer
// until Attach.
func New(mode Mode, max int) *Framer {
	if max < 1 {
		max = 1
	}
	return &Framer{mode: mode, max: max}
}

// BufferSize is the smallest buffer a framer for max-byte messages can use.
func BufferSize(max int) int { return max + Overhead }

// Attach lends the framer a buffer of at least BufferSize(max) bytes.
// Buffered bytes, if any, move into it.
func (f *Framer) Attach(buf []byte) {
	if len(buf) < BufferSize(f.max) {
		panic("framing: buffer smaller than BufferSize")
	}
	n := copy(buf, f.buf[f.r:f.w])
	f.buf, f.r, f.w = buf, 0, n
}

// Detach takes the buffer back when nothing is buffered, so that an idle
// connection holds none; it returns nil while a partial message waits.
func (f *Framer) Detach() []byte {
	if f.r != f.w || f.buf == nil {
		return nil
	}
	b := f.buf
	f.buf, f.r, f.w = nil, 0, 0
	return b
}

// Buffered is the number of bytes read but not yet framed.
func (f *Framer) Buffered() int { return f.w - f.r }

// Mode is the framing in use: Auto until the first bytes decided it.
func (f *Framer) Mode() Mode { return f.mode }

// Space returns the free part of the buffer to read into, moving buffered
// bytes to its front first. Messages returned before are invalid after it.
func (f *Framer) Space() []byte {
	if f.r > 0 {
		n := copy(f.buf, f.buf[f.r:f.w])
		f.r, f.w = 0, n
	}
	return f.buf[f.w:]
}

// Commit adds n bytes read into Space.
func (f *Framer) Commit(n int) { f.w += n }

// SetEOF says no more bytes will come: Next then returns what is left as a
// last message, flagged truncated if it was an incomplete octet frame.
func (f *Framer) SetEOF() { f.eof = true }

// Next returns the next whole message, whether it was cut to the maximum
// size, and false when more bytes are needed.
func (f *Framer) Next() (msg []byte, truncated, ok bool) {
	for {
		if !f.drop() {
			return nil, false, false
		}
		if f.r == f.w {
			return nil, false, false
		}
		if f.mode == Auto && !f.detect() {
			return nil, false, false
		}
		if f.mode == OctetCounting {
			msg, truncated, done, isFrame := f.octet()
			if isFrame {
				if !done {
					return nil, false, false
				}
				if len(msg) == 0 {
					continue
				}
				return msg, truncated, true
			}
		}
		msg, truncated, done := f.line()
		if !done {
			return nil, false, false
		}
		if len(msg) == 0 {
			continue
		}
		return msg, truncated, true
	}
}

// drop discards what remains of an overlong message; it reports whether
// the framer is at the start of a message.
func (f *Framer) drop() bool {
	if f.discard > 0 {
		n := min(f.discard, f.w-f.r)
		f.r += n
		f.discard -= n
		if f.discard > 0 {
			return false
		}
	}
	if f.skipLine {
		i := bytes.IndexByte(f.buf[f.r:f.w], '\n')
		if i < 0 {
			f.r = f.w
			return false
		}
		f.r += i + 1
		f.skipLine = false
	}
	return true
}

// detect decides the framing from the first bytes of the connection:
// octet counting needs "[1-9][0-9]* <". It reports false when it needs more.
func (f *Framer) detect() bool {
	b := f.buf[f.r:f.w]
	i := 0
	for i < len(b) && i <= maxLenDigits && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	switch {
	case i == 0 || b[0] == '0' || i > maxLenDigits:
		f.mode = Newline
	case i == len(b) || i+1 == len(b):
		if f.eof {
			f.mode = Newline
			return true
		}
		return false
	case b[i] == ' ' && b[i+1] == '<':
		f.mode = OctetCounting
	default:
		f.mode = Newline
	}
	return true
}

// octet reads one octet-counted frame. isFrame is false when the bytes do
// not start with a length: the caller reads a line instead.
func (f *Framer) octet() (msg []byte, truncated, done, isFrame bool) {
	// Tolerate line ends between frames, as some senders add them.
	for f.r < f.w && (f.buf[f.r] == '\n' || f.buf[f.r] == '\r') {
		f.r++
	}
	b := f.buf[f.r:f.w]
	if len(b) == 0 {
		return nil, false, false, true
	}
	n, i := 0, 0
	for i < len(b) && i < maxLenDigits && b[i] >= '0' && b[i] <= '9' {
		n = n*10 + int(b[i]-'0')
		i++
	}
	if i == 0 || b[0] == '0' {
		return nil, false, false, false
	}
	if i == len(b) {
		if f.eof {
			return nil, false, false, false
		}
		return nil, false, false, true // the header is not complete yet
	}
	if b[i] != ' ' {
		return nil, false, false, false
	}
	body := b[i+1:]
	if n <= f.max {
		if len(body) < n {
			if f.eof {
				f.r = f.w
				return body, true, true, true
			}
			return nil, false, false, true
		}
		f.r += i + 1 + n
		return trimEOL(body[:n]), false, true, true
	}
	if len(body) < f.max {
		if f.eof {
			f.r = f.w
			return body, true, true, true
		}
		return nil, false, false, true
	}
	f.r += i + 1 + f.max
	f.discard = n - f.max
	return body[:f.max], true, true, true
}

// line reads one newline-delimited message.
func (f *Framer) line() (msg []byte, truncated, done bool) {
	b := f.buf[f.r:f.w]
	look := b
	if len(look) > f.max+1 {
		look = look[:f.max+1]
	}
	if i := bytes.IndexByte(look, '\n'); i >= 0 {
		f.r += i + 1
		msg = b[:i]
		if len(msg) > 0 && msg[len(msg)-1] == '\r' {
			msg = msg[:len(msg)-1]
		}
		if len(msg) > f.max {
			return msg[:f.max], true, true
		}
		return msg, false, true
	}
	if len(b) > f.max {
		f.r += f.max
		f.skipLine = true
		return b[:f.max], true, true
	}
	if f.eof {
		f.r = f.w
		if len(b) > 0 && b[len(b)-1] == '\r' {
			b = b[:len(b)-1]
		}
		return b, false, true
	}
	return nil, false, false
}

func trimEOL(b []byte) []byte {
	if len(b) > 0 && b[len(b)-1] == '\n' {
		b = b[:len(b)-1]
		if len(b) > 0 && b[len(b)-1] == '\r' {
			b = b[:len(b)-1]
		}
	}
	return b
}
