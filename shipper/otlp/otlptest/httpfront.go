package otlptest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	statuspb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// HTTPAnswer is a front's answer to one OTLP/HTTP request; the zero value
// forwards it. Build them with HTTPStatus, HTTPPartial and the others.
type HTTPAnswer struct {
	Kind       AnswerKind
	Status     int    // Fail: the status code
	RetryAfter string // Fail: the Retry-After header ("" for none)
	Message    string // Fail: the Status message; Partial: error_message
	Rejected   int    // Partial: how many records (the last ones) are rejected
}

// HTTPStatus answers code (503, 429, 400, 500 ...) with a Retry-After header
// when retryAfter is not "" (seconds, or an HTTP date).
func HTTPStatus(code int, retryAfter string) HTTPAnswer {
	return HTTPAnswer{Kind: Fail, Status: code, RetryAfter: retryAfter, Message: http.StatusText(code)}
}

// HTTPPartial forwards all records but the last rejected ones and answers a
// partial success naming those as rejected, with message.
func HTTPPartial(rejected int, message string) HTTPAnswer {
	return HTTPAnswer{Kind: Partial, Rejected: rejected, Message: message}
}

// HTTPReset, HTTPForwardThenReset and HTTPHang: see the AnswerKinds.
func HTTPReset() HTTPAnswer            { return HTTPAnswer{Kind: Reset} }
func HTTPForwardThenReset() HTTPAnswer { return HTTPAnswer{Kind: ForwardThenReset} }
func HTTPHang() HTTPAnswer             { return HTTPAnswer{Kind: Hang} }

// HTTPFront is an OTLP/HTTP server that answers by its script and forwards
// to the receiver what the script lets through.
type HTTPFront struct {
	// URL is the front's base, http://127.0.0.1:PORT.
	URL string

	t      testing.TB
	target string // the receiver's logs URL
	srv    *httptest.Server
	client *http.Client
	closed chan struct{}

	mu        sync.Mutex
	script    Script[HTTPAnswer]
	exchanges *exchangeLog
}

// NewHTTPFront starts a front for the receiver's OTLP/HTTP address (host:port)
// that answers by script (nil forwards everything). It closes when the test ends.
func NewHTTPFront(t testing.TB, receiverAddr string, script Script[HTTPAnswer]) *HTTPFront {
	t.Helper()
	f := &HTTPFront{
		t:         t,
		target:    "http://" + receiverAddr + "/v1/logs",
		client:    &http.Client{Transport: &http.Transport{}},
		closed:    make(chan struct{}),
		script:    script,
		exchanges: newExchangeLog(),
	}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	f.URL = f.srv.URL
	t.Cleanup(f.Close)
	return f
}

// LogsURL returns the front's OTLP/HTTP logs endpoint.
func (f *HTTPFront) LogsURL() string { return f.URL + "/v1/logs" }

// SetScript replaces the script for the requests to come.
func (f *HTTPFront) SetScript(s Script[HTTPAnswer]) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.script = s
}

// Exchanges returns the requests taken so far, in the order they arrived
// (those still under way have Done false).
func (f *HTTPFront) Exchanges() []Exchange { return f.exchanges.snapshot() }

// WaitExchanges waits until n requests are answered and returns the
// exchanges; it fails the test after timeout.
func (f *HTTPFront) WaitExchanges(n int, timeout time.Duration) []Exchange {
	f.t.Helper()
	return f.exchanges.wait(f.t, "HTTP front", n, timeout)
}

// Close releases hanging requests and stops the front. Safe to call twice.
func (f *HTTPFront) Close() {
	select {
	case <-f.closed:
		return
	default:
	}
	close(f.closed)
	f.srv.CloseClientConnections()
	f.srv.Close()
	f.client.CloseIdleConnections()
}

func (f *HTTPFront) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/v1/logs" {
		http.Error(w, "the front serves POST /v1/logs only", http.StatusNotFound)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxDecoded+1))
	if err != nil {
		// The client went away mid-body; nothing to answer or count.
		return
	}
	ex := Exchange{
		Transport:   "http",
		Compression: r.Header.Get("Content-Encoding"),
		Headers:     lowerHeaders(r.Header),
	}
	var req *collogspb.ExportLogsServiceRequest
	var plain []byte
	ex.Encoding, err = encodingOf(r.Header.Get("Content-Type"))
	if err == nil {
		plain, err = decompress(ex.Compression, body)
	}
	if err == nil {
		req, err = DecodeRequest(ex.Encoding, plain)
	}
	seen := Seen{Encoding: ex.Encoding, Compression: ex.Compression, Records: -1}
	if err != nil {
		ex.DecodeErr = err.Error()
	} else {
		ex.Records = RecordsOf(req, 0)
		seen.Records = len(ex.Records)
	}
	f.exchanges.add(&ex)
	seen.N = ex.N
	f.mu.Lock()
	script := f.script
	f.mu.Unlock()

	var ans HTTPAnswer
	if script != nil {
		ans = script(seen)
	}
	ex.Answer = ans.Kind
	f.answer(w, r, &ex, ans, body, plain, req)
	f.exchanges.finish(ex)
}

func (f *HTTPFront) answer(w http.ResponseWriter, r *http.Request, ex *Exchange, ans HTTPAnswer, body, plain []byte, req *collogspb.ExportLogsServiceRequest) {
	switch ans.Kind {
	case Forward, ForwardThenReset:
		status, hdr, respBody, err := f.forward(r.Context(), r.Header, body)
		if err != nil {
			ex.Status = http.StatusBadGateway
			http.Error(w, err.Error(), ex.Status)
			return
		}
		if status == http.StatusOK {
			ex.Forwarded = ex.Records
		}
		if ans.Kind == ForwardThenReset {
			reset(w)
			return
		}
		ex.Status = status
		ex.Acked = status == http.StatusOK
		for k, vs := range hdr {
			w.Header()[k] = vs
		}
		w.WriteHeader(status)
		_, _ = w.Write(respBody)

	case Fail:
		ex.Status = ans.Status
		if ans.RetryAfter != "" {
			w.Header().Set("Retry-After", ans.RetryAfter)
		}
		writeMessage(w, ex.Encoding, ans.Status, &statuspb.Status{Code: int32(grpcCodeOf(ans.Status)), Message: ans.Message})

	case Partial:
		if req == nil {
			ex.Status = http.StatusBadRequest
			http.Error(w, "the front cannot decode this request to reject part of it: "+ex.DecodeErr, ex.Status)
			return
		}
		n := min(ans.Rejected, len(ex.Records))
		kept := len(ex.Records) - n
		if kept > 0 {
			fwd, err := f.trimmed(ex.Encoding, plain, req, n)
			if err == nil {
				h := r.Header.Clone()
				h.Del("Content-Encoding")
				var status int
				var respBody []byte
				status, _, respBody, err = f.forward(r.Context(), h, fwd)
				if err == nil && status != http.StatusOK {
					// The receiver refused the rest: pass its answer on.
					ex.Status = status
					w.Header().Set("Content-Type", r.Header.Get("Content-Type"))
					w.WriteHeader(status)
					_, _ = w.Write(respBody)
					return
				}
			}
			if err != nil {
				ex.Status = http.StatusBadGateway
				http.Error(w, err.Error(), ex.Status)
				return
			}
			ex.Forwarded = ex.Records[:kept]
		}
		ex.Rejected = ex.Records[kept:]
		ex.Status, ex.Acked = http.StatusOK, true
		resp := &collogspb.ExportLogsServiceResponse{PartialSuccess: &collogspb.ExportLogsPartialSuccess{
			RejectedLogRecords: int64(n),
			ErrorMessage:       ans.Message,
		}}
		writeMessage(w, ex.Encoding, http.StatusOK, resp)

	case Reset:
		reset(w)

	case Hang:
		select {
		case <-r.Context().Done():
		case <-f.closed:
			// Returning would answer 200; a closing server answers nothing.
			reset(w)
		}

	default:
		f.t.Errorf("otlptest: HTTP front: answer %v is not for HTTP", ans.Kind)
		ex.Status = http.StatusInternalServerError
		http.Error(w, "bad script", ex.Status)
	}
}

func (f *HTTPFront) trimmed(encoding string, plain []byte, req *collogspb.ExportLogsServiceRequest, n int) ([]byte, error) {
	if encoding == EncodingJSON {
		return trimJSON(plain, n)
	}
	return proto.Marshal(trimProto(req, n))
}

// forward posts body to the receiver with the client's headers.
func (f *HTTPFront) forward(ctx context.Context, h http.Header, body []byte) (int, http.Header, []byte, error) {
	out, err := http.NewRequestWithContext(ctx, http.MethodPost, f.target, bytes.NewReader(body))
	if err != nil {
		return 0, nil, nil, fmt.Errorf("front: %w", err)
	}
	for k, vs := range h {
		switch strings.ToLower(k) {
		case "content-length", "connection", "host", "transfer-encoding":
		default:
			out.Header[k] = vs
		}
	}
	resp, err := f.client.Do(out)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("front: forward to receiver: %w", err)
	}
	defer resp.Body.Close()
	respBody, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("front: read receiver answer: %w", err)
	}
	hdr := resp.Header.Clone()
	hdr.Del("Content-Length")
	return resp.StatusCode, hdr, respBody, nil
}

// writeMessage answers a protobuf message in the request's encoding (protobuf
// when the request's could not be told).
func writeMessage(w http.ResponseWriter, encoding string, status int, m proto.Message) {
	var b []byte
	var err error
	if encoding == EncodingJSON {
		w.Header().Set("Content-Type", "application/json")
		b, err = protojson.Marshal(m)
	} else {
		w.Header().Set("Content-Type", "application/x-protobuf")
		b, err = proto.Marshal(m)
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// reset closes the client's connection with a TCP RST.
func reset(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	conn.Close()
}

// grpcCodeOf is the google.rpc.Status code that goes with an HTTP status.
func grpcCodeOf(status int) codes.Code {
	switch status {
	case http.StatusBadRequest:
		return codes.InvalidArgument
	case http.StatusUnauthorized:
		return codes.Unauthenticated
	case http.StatusForbidden:
		return codes.PermissionDenied
	case http.StatusNotFound:
		return codes.NotFound
	case http.StatusTooManyRequests:
		return codes.ResourceExhausted
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return codes.Unavailable
	case http.StatusInternalServerError:
		return codes.Internal
	}
	return codes.Unknown
}

func lowerHeaders(h http.Header) map[string][]string {
	m := make(map[string][]string, len(h))
	for k, vs := range h {
		m[strings.ToLower(k)] = append([]string(nil), vs...)
	}
	return m
}
