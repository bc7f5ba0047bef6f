package otlp

import (
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/capstan-agent/capstan/shipper/httpc"
)

// The answers of an OTLP destination, classed as the OTLP specification
// ("OTLP/HTTP Response", "OTLP/gRPC Response") says, in one table per
// transport (docs/output-otlp.md, "Answers").

type verdict uint8

const (
	delivered verdict = iota // taken; partial may say some records were refused
	retry                    // nothing taken: send again, after `after` at least
	reject                   // refused for good: every record to the dead letter
	tooLarge                 // refused for its size: split
)

// answer is what one send came to.
type answer struct {
	verdict verdict
	reason  string // a class: the failures_total or dead_letter_records_total label
	err     error
	after   time.Duration // Retry-After, RetryInfo
	// partial success: rejected records (the last in document order) and
	// the destination's words.
	rejected int64
	message  string
}

// ReasonPartial labels the records a partial success refused.
const ReasonPartial = "partial_success"

// httpRetryable are the statuses OTLP/HTTP says to retry: throttled, and
// the gateway and availability errors.
func httpRetryable(status int) bool {
	switch status {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// classifyHTTP classes an HTTP answer: its status, headers and (the start
// of) its body.
func classifyHTTP(status int, h http.Header, body []byte, now time.Time) answer {
	reason := "http_" + strconv.Itoa(status)
	switch {
	case status >= 200 && status < 300:
		a := answer{verdict: delivered}
		if len(body) > 0 {
			var resp collogspb.ExportLogsServiceResponse
			if err := unmarshalAnswer(h.Get("Content-Type"), body, &resp); err == nil {
				a.rejected = resp.GetPartialSuccess().GetRejectedLogRecords()
				a.message = resp.GetPartialSuccess().GetErrorMessage()
			}
		}
		return a
	case httpRetryable(status):
		a := answer{verdict: retry, reason: reason, err: httpError(status, h, body)}
		a.after, _ = httpc.RetryAfter(h.Get("Retry-After"), now)
		return a
	case status == http.StatusRequestEntityTooLarge:
		return answer{verdict: tooLarge, reason: "too_large", err: httpError(status, h, body)}
	}
	return answer{verdict: reject, reason: reason, err: httpError(status, h, body)}
}

// httpError says what an HTTP answer said: the google.rpc.Status message
// OTLP/HTTP servers answer with, or the start of the body.
func httpError(status int, h http.Header, body []byte) error {
	msg := httpc.Snippet(body)
	var st spb.Status
	if err := unmarshalAnswer(h.Get("Content-Type"), body, &st); err == nil && st.GetMessage() != "" {
		msg = st.GetMessage()
	}
	if msg == "" {
		return fmt.Errorf("HTTP %d %s", status, http.StatusText(status))
	}
	return fmt.Errorf("HTTP %d: %s", status, msg)
}

// unmarshalAnswer reads an answer body of the content type OTLP/HTTP
// servers use: protobuf or JSON.
func unmarshalAnswer(contentType string, body []byte, m proto.Message) error {
	mt, _, _ := mime.ParseMediaType(contentType)
	switch mt {
	case "application/x-protobuf", "application/protobuf":
		return proto.Unmarshal(body, m)
	case "application/json":
		return protojson.UnmarshalOptions{DiscardUnknown: true}.Unmarshal(body, m)
	}
	return errors.New("not an OTLP answer")
}

// grpcRetryable are the codes OTLP/gRPC says to retry. RESOURCE_EXHAUSTED
// is retried only when the server says when (RetryInfo): without it the
// server is saying it will never take this request.
func grpcRetryable(c codes.Code) bool {
	switch c {
	case codes.Canceled, codes.DeadlineExceeded, codes.Aborted, codes.OutOfRange, codes.Unavailable, codes.DataLoss:
		return true
	}
	return false
}

// classifyGRPC classes the error of an Export call.
func classifyGRPC(err error) answer {
	st := status.Convert(err)
	code := st.Code()
	reason := "grpc_" + codeName(code)
	var after time.Duration
	hasInfo := false
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok && ri.GetRetryDelay() != nil {
			after, hasInfo = max(0, ri.GetRetryDelay().AsDuration()), true
		}
	}
	e := fmt.Errorf("gRPC %s: %s", code, st.Message())
	switch {
	case grpcRetryable(code), code == codes.ResourceExhausted && hasInfo:
		return answer{verdict: retry, reason: reason, err: e, after: after}
	case code == codes.ResourceExhausted && strings.Contains(st.Message(), "larger than max"):
		// grpc-go's "received message larger than max": the server's size
		// limit, which a smaller request passes.
		return answer{verdict: tooLarge, reason: "too_large", err: e}
	}
	return answer{verdict: reject, reason: reason, err: e}
}

// codeName is a gRPC code as a label: resource_exhausted.
func codeName(c codes.Code) string {
	s := c.String()
	var b strings.Builder
	for i, r := range s {
		if r >= 'A' && r <= 'Z' {
			if i > 0 {
				b.WriteByte('_')
			}
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}
