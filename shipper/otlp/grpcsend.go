package otlp

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/klauspost/compress/zstd"
	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/encoding"
	_ "google.golang.org/grpc/encoding/gzip" // registers gzip
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"

	"github.com/capstan-agent/capstan/shipper/httpc"
)

// exportMethod is LogsService/Export.
const exportMethod = "/opentelemetry.proto.collector.logs.v1.LogsService/Export"

// grpcTransport sends requests with OTLP/gRPC on one connection
// (HTTP/2 carries the concurrent calls).
type grpcTransport struct {
	m           *mapping
	conn        *grpc.ClientConn
	md          metadata.MD
	auth        *httpc.Authorizer
	compression string // grpc-encoding, "" for none
}

func (t *grpcTransport) send(ctx context.Context, body []byte, s *reqState) answer {
	s.payload = t.m.payload(s.payload, body, s)
	md := t.md
	if t.auth != nil {
		name, value, err := t.auth.Header()
		if err != nil {
			return answer{verdict: retry, reason: "auth", err: err}
		}
		md = metadata.Join(md, metadata.Pairs(name, value))
	}
	ctx = metadata.NewOutgoingContext(ctx, md)
	opts := []grpc.CallOption{grpc.ForceCodec(rawCodec{})}
	if t.compression != "" {
		opts = append(opts, grpc.UseCompressor(t.compression))
	}
	var resp []byte
	if err := t.conn.Invoke(ctx, exportMethod, s.payload, &resp, opts...); err != nil {
		return classifyGRPC(err)
	}
	var r collogspb.ExportLogsServiceResponse
	if err := proto.Unmarshal(resp, &r); err != nil {
		return answer{verdict: delivered} // taken: the server said OK
	}
	return answer{verdict: delivered, rejected: r.GetPartialSuccess().GetRejectedLogRecords(),
		message: r.GetPartialSuccess().GetErrorMessage()}
}

func (t *grpcTransport) connections() int64 {
	if t.conn.GetState() == connectivity.Ready {
		return 1
	}
	return 0
}

func (t *grpcTransport) close() { t.conn.Close() }

// rawCodec sends the request bytes the mapping assembled as they are, and
// hands the answer's bytes back: the messages are protobuf already.
type rawCodec struct{}

func (rawCodec) Name() string { return "proto" }

func (rawCodec) Marshal(v any) ([]byte, error) {
	b, ok := v.([]byte)
	if !ok {
		return nil, fmt.Errorf("raw codec: cannot send %T", v)
	}
	return b, nil
}

func (rawCodec) Unmarshal(data []byte, v any) error {
	p, ok := v.(*[]byte)
	if !ok {
		return fmt.Errorf("raw codec: cannot read into %T", v)
	}
	*p = append((*p)[:0], data...)
	return nil
}

func init() {
	// gRPC's compressors are registered by name, process-wide; capstan adds
	// zstd (its gzip comes with gRPC).
	if encoding.GetCompressor("zstd") == nil {
		encoding.RegisterCompressor(zstdCompressor{})
	}
}

// zstdCompressor is zstd for gRPC messages, with pooled encoders.
type zstdCompressor struct{}

var (
	zstdEncoders = sync.Pool{New: func() any {
		e, _ := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))
		return e
	}}
)

func (zstdCompressor) Name() string { return "zstd" }

func (zstdCompressor) Compress(w io.Writer) (io.WriteCloser, error) {
	e := zstdEncoders.Get().(*zstd.Encoder)
	e.Reset(w)
	return &pooledEncoder{e}, nil
}

// Decompress reads a whole answer (answers are small), so the decoder is
// released before the message is handed on.
func (zstdCompressor) Decompress(r io.Reader) (io.Reader, error) {
	zr, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(64<<20))
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

type pooledEncoder struct{ *zstd.Encoder }

func (p *pooledEncoder) Close() error {
	err := p.Encoder.Close()
	zstdEncoders.Put(p.Encoder)
	return err
}
