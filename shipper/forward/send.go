package forward

import (
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// sendfileConn writes DATA frames on plain TCP: the header with one
// sendmsg(MSG_MORE), then the payload with sendfile(2) from the segment at an
// explicit offset, so the bytes go from the page cache to the socket without
// entering this process, and no file's shared seek position is used.
type sendfileConn struct {
	raw syscall.RawConn
}

func newSendfileConn(c *net.TCPConn) (*sendfileConn, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	return &sendfileConn{raw: raw}, nil
}

// maxSendfile is the most one sendfile(2) call is asked to move.
const maxSendfile = 1 << 30

func (s *sendfileConn) send(hdr []byte, f *os.File, pos, n int64) error {
	fraw, err := f.SyscallConn()
	if err != nil {
		return fmt.Errorf("sendfile: %w", err)
	}
	var serr error
	// Control holds the segment's descriptor open while we use it, even if
	// retention closes the file meanwhile.
	cerr := fraw.Control(func(ffd uintptr) {
		werr := s.raw.Write(func(fd uintptr) bool {
			for len(hdr) > 0 {
				w, err := unix.SendmsgN(int(fd), hdr, nil, nil, unix.MSG_MORE)
				switch {
				case err == unix.EAGAIN:
					return false // wait until writable (honours the write deadline)
				case err == unix.EINTR:
					continue
				case err != nil:
					serr = fmt.Errorf("send frame header: %w", err)
					return true
				}
				hdr = hdr[w:]
			}
			for n > 0 {
				w, err := unix.Sendfile(int(fd), int(ffd), &pos, int(min(n, maxSendfile)))
				if w > 0 {
					n -= int64(w)
				}
				switch {
				case err == unix.EAGAIN:
					return false
				case err == unix.EINTR:
					continue
				case err != nil:
					serr = fmt.Errorf("sendfile: %w", err)
					return true
				case w == 0:
					serr = fmt.Errorf("sendfile: segment ends %d bytes early: %w", n, io.ErrUnexpectedEOF)
					return true
				}
			}
			return true
		})
		if serr == nil && werr != nil {
			serr = werr
		}
	})
	if cerr != nil {
		return fmt.Errorf("sendfile: %w", cerr)
	}
	return serr
}

// bufferSize is the size of the pooled buffers of the copying path.
const bufferSize = 256 << 10

var bufferPool = sync.Pool{New: func() any { b := make([]byte, bufferSize); return &b }}

// sendBuffered writes a DATA frame through a pooled buffer: the path for TLS,
// which Go cannot hand to sendfile. The header rides in the first chunk, so a
// small frame is one write (one TLS record).
func sendBuffered(w io.Writer, hdr []byte, f *os.File, pos, n int64) error {
	bp := bufferPool.Get().(*[]byte)
	defer bufferPool.Put(bp)
	buf := *bp
	k := copy(buf, hdr)
	if k < len(hdr) { // headers are far smaller than a buffer; be safe anyway
		if _, err := w.Write(hdr); err != nil {
			return err
		}
		k = 0
	}
	for n > 0 || k > 0 {
		m := int(min(int64(len(buf)-k), n))
		if m > 0 {
			r, err := f.ReadAt(buf[k:k+m], pos)
			if r < m {
				if err == nil || err == io.EOF {
					err = io.ErrUnexpectedEOF
				}
				return fmt.Errorf("read segment %s at %d: %w", f.Name(), pos, err)
			}
			pos += int64(m)
			n -= int64(m)
		}
		if _, err := w.Write(buf[:k+m]); err != nil {
			return err
		}
		k = 0
	}
	return nil
}
