package httpc

import (
	"errors"
	"io"
	"sync"
)

// Body is a request body in up to three parts (a header, a body built
// elsewhere, a trailer), read without copying them together. It is reused
// with its request: set Parts, Reset, send, then Finish before the parts
// are touched again — net/http may go on reading a body after the answer
// came (a server that answers before it read everything), and Finish makes
// such late reads fail instead of reading bytes being reused.
type Body struct {
	Parts  [3][]byte
	mu     sync.Mutex
	i, off int
	done   bool
}

var errFinished = errors.New("request body read after its request finished")

// Reset rewinds the body for a send (and http.Request.GetBody).
func (b *Body) Reset() *Body {
	b.mu.Lock()
	b.i, b.off, b.done = 0, 0, false
	b.mu.Unlock()
	return b
}

// Finish ends the reads of the body: after it returns, none touches Parts.
func (b *Body) Finish() {
	b.mu.Lock()
	b.done = true
	b.mu.Unlock()
}

// Len is the body's length: the request's Content-Length.
func (b *Body) Len() int64 { return int64(len(b.Parts[0]) + len(b.Parts[1]) + len(b.Parts[2])) }

func (b *Body) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.done {
		return 0, errFinished
	}
	for b.i < len(b.Parts) && b.off == len(b.Parts[b.i]) {
		b.i, b.off = b.i+1, 0
	}
	if b.i == len(b.Parts) {
		return 0, io.EOF
	}
	n := copy(p, b.Parts[b.i][b.off:])
	b.off += n
	return n, nil
}

// Close does nothing: the parts belong to the request.
func (b *Body) Close() error { return nil }
