package otlp

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
)

func TestClassifyHTTP(t *testing.T) {
	now := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	pb := http.Header{"Content-Type": {"application/x-protobuf"}}
	js := http.Header{"Content-Type": {"application/json"}}
	statusBody := func(msg string) []byte {
		b, _ := proto.Marshal(&spb.Status{Code: 3, Message: msg})
		return b
	}
	partial := func(n int64, msg string) []byte {
		b, _ := proto.Marshal(&collogspb.ExportLogsServiceResponse{PartialSuccess: &collogspb.ExportLogsPartialSuccess{RejectedLogRecords: n, ErrorMessage: msg}})
		return b
	}
	partialJSON, _ := protojson.Marshal(&collogspb.ExportLogsServiceResponse{PartialSuccess: &collogspb.ExportLogsPartialSuccess{RejectedLogRecords: 3, ErrorMessage: "bad ts"}})
	for _, tc := range []struct {
		name     string
		status   int
		h        http.Header
		body     []byte
		verdict  verdict
		reason   string
		after    time.Duration
		rejected int64
		msg      string // in err, or the partial message
	}{
		{"ok, empty body", 200, pb, nil, delivered, "", 0, 0, ""},
		{"ok, empty response", 200, pb, partial(0, ""), delivered, "", 0, 0, ""},
		{"partial", 200, pb, partial(2, "timestamps too old"), delivered, "", 0, 2, "timestamps too old"},
		{"partial json", 200, js, partialJSON, delivered, "", 0, 3, "bad ts"},
		{"warning only", 200, pb, partial(0, "slow down"), delivered, "", 0, 0, "slow down"},
		{"202", 202, http.Header{}, []byte("whatever"), delivered, "", 0, 0, ""},
		{"429 seconds", 429, http.Header{"Retry-After": {"7"}}, nil, retry, "http_429", 7 * time.Second, 0, "HTTP 429 Too Many Requests"},
		{"503 date", 503, http.Header{"Retry-After": {"Fri, 01 May 2026 10:01:00 GMT"}, "Content-Type": {"application/x-protobuf"}},
			statusBody("overloaded"), retry, "http_503", time.Minute, 0, "HTTP 503: overloaded"},
		{"502", 502, http.Header{}, []byte("<html>bad gateway</html>"), retry, "http_502", 0, 0, "HTTP 502: <html>bad gateway</html>"},
		{"504", 504, http.Header{}, nil, retry, "http_504", 0, 0, "HTTP 504"},
		{"500 is not retried", 500, pb, statusBody("boom"), reject, "http_500", 0, 0, "HTTP 500: boom"},
		{"400", 400, pb, statusBody("invalid trace id"), reject, "http_400", 0, 0, "HTTP 400: invalid trace id"},
		{"401", 401, http.Header{}, []byte("no key"), reject, "http_401", 0, 0, "HTTP 401: no key"},
		{"404", 404, http.Header{}, nil, reject, "http_404", 0, 0, "HTTP 404 Not Found"},
		{"413", 413, http.Header{}, nil, tooLarge, "too_large", 0, 0, "HTTP 413"},
		{"408 is not in OTLP's list", 408, http.Header{}, nil, reject, "http_408", 0, 0, "HTTP 408"},
	} {
		a := classifyHTTP(tc.status, tc.h, tc.body, now)
		if a.verdict != tc.verdict || a.reason != tc.reason || a.after != tc.after || a.rejected != tc.rejected {
			t.Errorf("%s: %+v", tc.name, a)
		}
		got := a.message
		if a.err != nil {
			got = a.err.Error()
		}
		if !strings.Contains(got, tc.msg) {
			t.Errorf("%s: message %q, want %q", tc.name, got, tc.msg)
		}
	}
}

func TestClassifyGRPC(t *testing.T) {
	withInfo := func(c codes.Code, d time.Duration) error {
		st, _ := status.New(c, "slow down").WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(d)})
		return st.Err()
	}
	for _, tc := range []struct {
		err     error
		verdict verdict
		reason  string
		after   time.Duration
	}{
		{status.Error(codes.Unavailable, "down"), retry, "grpc_unavailable", 0},
		{withInfo(codes.Unavailable, 3*time.Second), retry, "grpc_unavailable", 3 * time.Second},
		{status.Error(codes.Canceled, "x"), retry, "grpc_canceled", 0},
		{status.Error(codes.DeadlineExceeded, "x"), retry, "grpc_deadline_exceeded", 0},
		{status.Error(codes.Aborted, "x"), retry, "grpc_aborted", 0},
		{status.Error(codes.OutOfRange, "x"), retry, "grpc_out_of_range", 0},
		{status.Error(codes.DataLoss, "x"), retry, "grpc_data_loss", 0},
		{withInfo(codes.ResourceExhausted, time.Second), retry, "grpc_resource_exhausted", time.Second},
		{status.Error(codes.ResourceExhausted, "quota"), reject, "grpc_resource_exhausted", 0},
		{status.Error(codes.ResourceExhausted, "grpc: received message larger than max (5000000 vs. 4194304)"), tooLarge, "too_large", 0},
		{status.Error(codes.InvalidArgument, "bad"), reject, "grpc_invalid_argument", 0},
		{status.Error(codes.Unauthenticated, "key"), reject, "grpc_unauthenticated", 0},
		{status.Error(codes.PermissionDenied, "no"), reject, "grpc_permission_denied", 0},
		{status.Error(codes.Internal, "oops"), reject, "grpc_internal", 0},
		{status.Error(codes.Unimplemented, "no logs"), reject, "grpc_unimplemented", 0},
		{errors.New("not a status"), reject, "grpc_unknown", 0},
	} {
		a := classifyGRPC(tc.err)
		if a.verdict != tc.verdict || a.reason != tc.reason || a.after != tc.after {
			t.Errorf("%v: %+v", tc.err, a)
		}
	}
}
