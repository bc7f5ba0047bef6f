package otlptest

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	_ "google.golang.org/grpc/encoding/gzip" // the front takes gzip requests, as the Collector does
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
)

// GRPCAnswer is a front's answer to one LogsService/Export call; the zero
// value forwards it. Build them with GRPCError, GRPCPartial and the others.
type GRPCAnswer struct {
	Kind    AnswerKind
	Code    codes.Code // Fail, ForwardThenFail: the status code
	Message string     // Fail: the status message; Partial: error_message
	// RetryDelay, when HasRetryInfo, goes in a google.rpc.RetryInfo detail.
	RetryDelay   time.Duration
	HasRetryInfo bool
	Rejected     int // Partial: how many records (the last ones) are rejected
}

// GRPCError answers code (Unavailable, ResourceExhausted, InvalidArgument ...)
// without a RetryInfo detail.
func GRPCError(code codes.Code, message string) GRPCAnswer {
	return GRPCAnswer{Kind: Fail, Code: code, Message: message}
}

// GRPCErrorRetryInfo answers code with a RetryInfo detail of delay (the OTLP
// signal that RESOURCE_EXHAUSTED may be retried).
func GRPCErrorRetryInfo(code codes.Code, message string, delay time.Duration) GRPCAnswer {
	return GRPCAnswer{Kind: Fail, Code: code, Message: message, RetryDelay: delay, HasRetryInfo: true}
}

// GRPCPartial forwards all records but the last rejected ones and answers a
// partial success naming those as rejected, with message.
func GRPCPartial(rejected int, message string) GRPCAnswer {
	return GRPCAnswer{Kind: Partial, Rejected: rejected, Message: message}
}

// GRPCForwardThenFail forwards, then answers code: the receiver has the
// records, the client is told they failed.
func GRPCForwardThenFail(code codes.Code, message string) GRPCAnswer {
	return GRPCAnswer{Kind: ForwardThenFail, Code: code, Message: message}
}

// GRPCHang holds the call until the client's deadline or the front closes.
func GRPCHang() GRPCAnswer { return GRPCAnswer{Kind: Hang} }

// GRPCFront is an OTLP/gRPC LogsService that answers by its script and
// forwards to the receiver what the script lets through.
type GRPCFront struct {
	// Addr is the front's host:port.
	Addr string

	t      testing.TB
	srv    *grpc.Server
	conn   *grpc.ClientConn
	client collogspb.LogsServiceClient
	served chan struct{}
	closed chan struct{}
	once   sync.Once

	mu        sync.Mutex
	script    Script[GRPCAnswer]
	exchanges *exchangeLog
}

// NewGRPCFront starts a front for the receiver's OTLP/gRPC address
// (host:port) that answers by script (nil forwards everything). It stops when
// the test ends.
func NewGRPCFront(t testing.TB, receiverAddr string, script Script[GRPCAnswer]) *GRPCFront {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("grpc front: listen: %v", err)
	}
	conn, err := grpc.NewClient(receiverAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		ln.Close()
		t.Fatalf("grpc front: client for receiver %s: %v", receiverAddr, err)
	}
	f := &GRPCFront{
		Addr:      ln.Addr().String(),
		t:         t,
		conn:      conn,
		client:    collogspb.NewLogsServiceClient(conn),
		served:    make(chan struct{}),
		closed:    make(chan struct{}),
		script:    script,
		exchanges: newExchangeLog(),
	}
	f.srv = grpc.NewServer(grpc.StatsHandler(compressionRecorder{}))
	collogspb.RegisterLogsServiceServer(f.srv, logsService{f: f})
	go func() {
		defer close(f.served)
		_ = f.srv.Serve(ln)
	}()
	t.Cleanup(f.Close)
	return f
}

// SetScript replaces the script for the calls to come.
func (f *GRPCFront) SetScript(s Script[GRPCAnswer]) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.script = s
}

// Exchanges returns the calls taken so far, in the order they arrived (those
// still under way have Done false).
func (f *GRPCFront) Exchanges() []Exchange { return f.exchanges.snapshot() }

// WaitExchanges waits until n calls are answered and returns the exchanges;
// it fails the test after timeout.
func (f *GRPCFront) WaitExchanges(n int, timeout time.Duration) []Exchange {
	f.t.Helper()
	return f.exchanges.wait(f.t, "gRPC front", n, timeout)
}

// Close releases hanging calls and stops the front. Safe to call twice.
func (f *GRPCFront) Close() {
	f.once.Do(func() {
		close(f.closed)
		f.srv.Stop()
		<-f.served
		f.conn.Close()
	})
}

type logsService struct {
	collogspb.UnimplementedLogsServiceServer
	f *GRPCFront
}

func (s logsService) Export(ctx context.Context, req *collogspb.ExportLogsServiceRequest) (*collogspb.ExportLogsServiceResponse, error) {
	f := s.f
	md, _ := metadata.FromIncomingContext(ctx)
	ex := Exchange{Transport: "grpc", Encoding: EncodingProtobuf, Headers: map[string][]string{}}
	if c, ok := ctx.Value(compressionKey{}).(*string); ok {
		ex.Compression = *c
	}
	for k, vs := range md {
		ex.Headers[k] = append([]string(nil), vs...)
	}

	ex.Records = RecordsOf(req, 0)
	f.exchanges.add(&ex)
	f.mu.Lock()
	script := f.script
	f.mu.Unlock()

	var ans GRPCAnswer
	if script != nil {
		ans = script(Seen{N: ex.N, Encoding: ex.Encoding, Compression: ex.Compression, Records: len(ex.Records)})
	}
	ex.Answer = ans.Kind
	resp, err := f.answer(ctx, md, &ex, ans, req)
	ex.Code = status.Code(err)
	ex.Acked = err == nil
	f.exchanges.finish(ex)
	return resp, err
}

func (f *GRPCFront) answer(ctx context.Context, md metadata.MD, ex *Exchange, ans GRPCAnswer, req *collogspb.ExportLogsServiceRequest) (*collogspb.ExportLogsServiceResponse, error) {
	switch ans.Kind {
	case Forward, ForwardThenFail:
		resp, err := f.forward(ctx, md, req)
		if err != nil {
			return nil, err
		}
		ex.Forwarded = ex.Records
		if ans.Kind == ForwardThenFail {
			return nil, status.Error(ans.Code, ans.Message)
		}
		return resp, nil

	case Fail:
		st := status.New(ans.Code, ans.Message)
		if ans.HasRetryInfo {
			withInfo, err := st.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(ans.RetryDelay)})
			if err != nil {
				return nil, status.Errorf(codes.Internal, "front: retry info: %v", err)
			}
			st = withInfo
		}
		return nil, st.Err()

	case Partial:
		n := min(ans.Rejected, len(ex.Records))
		kept := len(ex.Records) - n
		if kept > 0 {
			if _, err := f.forward(ctx, md, trimProto(req, n)); err != nil {
				return nil, err
			}
			ex.Forwarded = ex.Records[:kept]
		}
		ex.Rejected = ex.Records[kept:]
		return &collogspb.ExportLogsServiceResponse{PartialSuccess: &collogspb.ExportLogsPartialSuccess{
			RejectedLogRecords: int64(n),
			ErrorMessage:       ans.Message,
		}}, nil

	case Hang:
		select {
		case <-ctx.Done():
			return nil, status.FromContextError(ctx.Err()).Err()
		case <-f.closed:
			return nil, status.Error(codes.Unavailable, "front closed")
		}
	}
	f.t.Errorf("otlptest: gRPC front: answer %v is not for gRPC", ans.Kind)
	return nil, status.Error(codes.Internal, "bad script")
}

// forward calls the receiver with the client's metadata (less what gRPC sets).
func (f *GRPCFront) forward(ctx context.Context, md metadata.MD, req *collogspb.ExportLogsServiceRequest) (*collogspb.ExportLogsServiceResponse, error) {
	out := metadata.MD{}
	for k, vs := range md {
		if strings.HasPrefix(k, ":") || strings.HasPrefix(k, "grpc-") || k == "content-type" || k == "user-agent" {
			continue
		}
		out[k] = vs
	}
	resp, err := f.client.Export(metadata.NewOutgoingContext(ctx, out), req)
	if err != nil {
		if _, ok := status.FromError(err); ok || errors.Is(err, context.Canceled) {
			return nil, err
		}
		return nil, status.Errorf(codes.Unavailable, "front: forward to receiver: %v", err)
	}
	return resp, nil
}

// compressionRecorder tells the handler which grpc-encoding the call came
// with: gRPC keeps that header out of the metadata.
type compressionRecorder struct{}

type compressionKey struct{}

func (compressionRecorder) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context {
	return context.WithValue(ctx, compressionKey{}, new(string))
}

func (compressionRecorder) HandleRPC(ctx context.Context, s stats.RPCStats) {
	if in, ok := s.(*stats.InHeader); ok {
		if c, ok := ctx.Value(compressionKey{}).(*string); ok {
			*c = in.Compression
		}
	}
}

func (compressionRecorder) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context {
	return ctx
}

func (compressionRecorder) HandleConn(context.Context, stats.ConnStats) {}
