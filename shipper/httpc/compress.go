package httpc

import (
	"fmt"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// Compressions a request body may have.
const (
	None = "none"
	Gzip = "gzip"
	Zstd = "zstd"
)

// Compressor compresses request bodies; it is safe for concurrent use
// (each output has one, its senders share it).
type Compressor struct {
	name    string
	gz      sync.Pool // *gzip.Writer
	zenc    *zstd.Encoder
	scratch sync.Pool // *[]byte: parts joined for zstd
}

// NewCompressor makes the compressor of a compression: none, gzip (at the
// fastest level: logs compress well even so, and CPU is what a shipper has
// least of) or zstd (fastest level, up to concurrency encoders at once).
func NewCompressor(name string, concurrency int) (*Compressor, error) {
	c := &Compressor{name: name}
	switch name {
	case None, "":
		c.name = None
	case Gzip:
		c.gz.New = func() any {
			w, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed) // the level is valid
			return w
		}
	case Zstd:
		enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest),
			zstd.WithEncoderConcurrency(max(1, concurrency)), zstd.WithZeroFrames(true), zstd.WithLowerEncoderMem(true))
		if err != nil {
			return nil, fmt.Errorf("zstd encoder: %w", err)
		}
		c.zenc = enc
		c.scratch.New = func() any { return new([]byte) }
	default:
		return nil, fmt.Errorf("unknown compression %q", name)
	}
	return c, nil
}

// Name is the compression: none, gzip or zstd.
func (c *Compressor) Name() string { return c.name }

// ContentEncoding is the Content-Encoding header's value, "" for none.
func (c *Compressor) ContentEncoding() string {
	if c.name == None {
		return ""
	}
	return c.name
}

// Append appends the concatenation of parts compressed to dst (the parts
// themselves for none) and returns it. It does not allocate once dst has
// grown to the size it needs.
func (c *Compressor) Append(dst []byte, parts ...[]byte) []byte {
	switch c.name {
	case Gzip:
		w := c.gz.Get().(*gzip.Writer)
		ab := appendBuffer{b: dst}
		w.Reset(&ab)
		for _, p := range parts {
			w.Write(p) // writes to an appendBuffer do not fail
		}
		w.Close()
		c.gz.Put(w)
		return ab.b
	case Zstd:
		// EncodeAll of one buffer writes the content size in the frame,
		// which lets a receiver decode it in one go: twice as fast as a
		// streamed frame, worth the copy of the parts into one.
		var one []byte
		for _, p := range parts {
			if len(p) > 0 {
				if one != nil {
					return c.zstdJoined(dst, parts)
				}
				one = p
			}
		}
		return c.zenc.EncodeAll(one, dst)
	}
	for _, p := range parts {
		dst = append(dst, p...)
	}
	return dst
}

func (c *Compressor) zstdJoined(dst []byte, parts [][]byte) []byte {
	bp := c.scratch.Get().(*[]byte)
	b := (*bp)[:0]
	for _, p := range parts {
		b = append(b, p...)
	}
	dst = c.zenc.EncodeAll(b, dst)
	*bp = b
	c.scratch.Put(bp)
	return dst
}

// Close releases the zstd encoders.
func (c *Compressor) Close() {
	if c.zenc != nil {
		c.zenc.Close()
	}
}

// appendBuffer is an io.Writer appending to a slice.
type appendBuffer struct{ b []byte }

func (a *appendBuffer) Write(p []byte) (int, error) {
	a.b = append(a.b, p...)
	return len(p), nil
}
