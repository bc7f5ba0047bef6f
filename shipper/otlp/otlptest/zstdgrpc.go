package otlptest

import (
	"bytes"
	"fmt"
	"io"

	"github.com/klauspost/compress/zstd"
	"google.golang.org/grpc/encoding"
)

// The Collector's gRPC server takes zstd requests; so must a front that
// stands in for it. gRPC keeps its codecs in a process-wide registry, so this
// registers one when no other package of the test binary has.
func init() {
	if encoding.GetCompressor("zstd") == nil {
		encoding.RegisterCompressor(zstdCompressor{})
	}
}

type zstdCompressor struct{}

func (zstdCompressor) Name() string { return "zstd" }

func (zstdCompressor) Compress(w io.Writer) (io.WriteCloser, error) {
	zw, err := zstd.NewWriter(w, zstd.WithEncoderConcurrency(1))
	if err != nil {
		return nil, fmt.Errorf("zstd writer: %w", err)
	}
	return zw, nil
}

// Decompress reads the whole message, so the decoder is released before the
// message is handed on.
func (zstdCompressor) Decompress(r io.Reader) (io.Reader, error) {
	zr, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(maxDecoded))
	if err != nil {
		return nil, fmt.Errorf("zstd reader: %w", err)
	}
	defer zr.Close()
	b, err := io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("zstd message: %w", err)
	}
	return bytes.NewReader(b), nil
}
