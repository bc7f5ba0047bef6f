package otlptest

import (
	"context"
	"net/http"
	"testing"
	"time"

	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	statuspb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

const perRequest = 5 // records in each scripted request

// Each scripted answer of the HTTP front reaches the client as OTLP/HTTP
// says it would from a server, and only what the script lets through
// reaches the receiver.
func TestHTTPFrontScript(t *testing.T) {
	r := Start(t, Options{NoGRPC: true})
	cases := []struct {
		name       string
		answer     HTTPAnswer
		json       bool
		encoding   string
		timeout    time.Duration // the client's; short where the front hangs
		status     int           // 0: the client gets no answer
		retryAfter string
		forwarded  int // how many of the request's records reach the receiver
		rejected   int
		acked      bool
	}{
		{name: "forward", status: 200, forwarded: 5, acked: true},
		{name: "503 retry-after", answer: HTTPStatus(503, "2"), status: 503, retryAfter: "2"},
		{name: "429 retry-after date", answer: HTTPStatus(429, "Wed, 21 Oct 2015 07:28:00 GMT"), status: 429, retryAfter: "Wed, 21 Oct 2015 07:28:00 GMT"},
		{name: "429 json", answer: HTTPStatus(429, "1"), json: true, status: 429, retryAfter: "1"},
		{name: "400", answer: HTTPStatus(400, ""), status: 400},
		{name: "500", answer: HTTPStatus(500, ""), json: true, status: 500},
		{name: "partial protobuf", answer: HTTPPartial(2, "two too many"), status: 200, forwarded: 3, rejected: 2, acked: true},
		{name: "partial json", answer: HTTPPartial(2, "two too many"), json: true, status: 200, forwarded: 3, rejected: 2, acked: true},
		{name: "partial gzip", answer: HTTPPartial(4, "most"), encoding: "gzip", status: 200, forwarded: 1, rejected: 4, acked: true},
		{name: "partial json zstd", answer: HTTPPartial(1, "one"), json: true, encoding: "zstd", status: 200, forwarded: 4, rejected: 1, acked: true},
		{name: "partial all", answer: HTTPPartial(9, "all"), status: 200, rejected: 5, acked: true},
		{name: "reset", answer: HTTPReset()},
		{name: "forward then reset", answer: HTTPForwardThenReset(), forwarded: 5},
		{name: "hang", answer: HTTPHang(), timeout: 300 * time.Millisecond},
	}
	answers := make([]HTTPAnswer, len(cases))
	for i, c := range cases {
		answers[i] = c.answer
	}
	f := NewHTTPFront(t, r.HTTPAddr, Sequence(answers...))

	var want []Record
	for i, c := range cases {
		from := i*perRequest + 1
		body, ctype := protoBody(t, lines(from, perRequest)), "application/x-protobuf"
		if c.json {
			body, ctype = linesJSON(from, perRequest), "application/json"
		}
		timeout := c.timeout
		if timeout == 0 {
			timeout = waitFor
		}
		res := post(t, f.LogsURL(), ctype, c.encoding, body, timeout)
		sent := RecordsOf(lines(from, perRequest), i+1)
		want = append(want, sent[:c.forwarded]...)

		ex := f.WaitExchanges(i+1, waitFor)[i]
		if c.status == 0 {
			if res.err == nil {
				t.Errorf("%s: the client got %d, want no answer", c.name, res.status)
			}
		} else if res.err != nil || res.status != c.status || res.retryAfter != c.retryAfter {
			t.Errorf("%s: status %d Retry-After %q err %v, want %d %q", c.name, res.status, res.retryAfter, res.err, c.status, c.retryAfter)
		}
		sameRecords(t, c.name+": seen", ex.Records, sent)
		sameRecords(t, c.name+": forwarded", ex.Forwarded, sent[:c.forwarded])
		sameRecords(t, c.name+": rejected", ex.Rejected, sent[c.forwarded:c.forwarded+c.rejected])
		if ex.Answer != c.answer.Kind || ex.Acked != c.acked || ex.Status != c.status || ex.Compression != c.encoding {
			t.Errorf("%s: exchange answer %v acked %v status %d compression %q", c.name, ex.Answer, ex.Acked, ex.Status, ex.Compression)
		}
		checkHTTPBody(t, c.name, c.json, res, c.answer)
	}
	// A last forwarded request fences the receiver's view: nothing of the
	// requests before it may arrive after it.
	fence := RecordsOf(lines(1000, 1), 0)
	if res := post(t, f.LogsURL(), "application/x-protobuf", "", protoBody(t, lines(1000, 1)), waitFor); res.status != 200 {
		t.Fatalf("fence: status %d err %v", res.status, res.err)
	}
	sameRecords(t, "received", r.Wait(len(want)+1, waitFor), append(want, fence...))
}

// checkHTTPBody decodes an answer's body in the request's encoding.
func checkHTTPBody(t *testing.T, name string, json bool, res httpResult, ans HTTPAnswer) {
	t.Helper()
	if res.err != nil {
		return
	}
	unmarshal := proto.Unmarshal
	if json {
		unmarshal = protojson.Unmarshal
	}
	switch {
	case res.status == 200:
		var resp collogspb.ExportLogsServiceResponse
		if err := unmarshal(res.body, &resp); err != nil {
			t.Errorf("%s: success body %q: %v", name, res.body, err)
		}
		ps := resp.GetPartialSuccess()
		if ps.GetRejectedLogRecords() != int64(min(ans.Rejected, perRequest)) || ps.GetErrorMessage() != ans.Message {
			t.Errorf("%s: partial success %v, want %d rejected with %q", name, ps, ans.Rejected, ans.Message)
		}
	default:
		var st statuspb.Status
		if err := unmarshal(res.body, &st); err != nil {
			t.Errorf("%s: error body %q: %v", name, res.body, err)
		}
		if st.GetMessage() != http.StatusText(res.status) || codes.Code(st.GetCode()) != grpcCodeOf(res.status) {
			t.Errorf("%s: status body %v", name, &st)
		}
	}
}

// Each scripted answer of the gRPC front reaches the client as the status
// an OTLP/gRPC server would send.
func TestGRPCFrontScript(t *testing.T) {
	r := Start(t, Options{NoHTTP: true})
	cases := []struct {
		name      string
		answer    GRPCAnswer
		timeout   time.Duration
		code      codes.Code
		retry     time.Duration // the RetryInfo delay; 0 for none
		forwarded int
		rejected  int
		compress  string
	}{
		{name: "forward", compress: "zstd", forwarded: 5},
		{name: "unavailable", answer: GRPCError(codes.Unavailable, "busy"), code: codes.Unavailable},
		{name: "resource exhausted", answer: GRPCError(codes.ResourceExhausted, "full"), code: codes.ResourceExhausted},
		{name: "resource exhausted retry info", answer: GRPCErrorRetryInfo(codes.ResourceExhausted, "later", 1500*time.Millisecond), code: codes.ResourceExhausted, retry: 1500 * time.Millisecond},
		{name: "unavailable retry info", answer: GRPCErrorRetryInfo(codes.Unavailable, "later", time.Second), code: codes.Unavailable, retry: time.Second},
		{name: "invalid argument", answer: GRPCError(codes.InvalidArgument, "bad"), code: codes.InvalidArgument},
		{name: "partial", answer: GRPCPartial(2, "two too many"), compress: "gzip", forwarded: 3, rejected: 2},
		{name: "partial all", answer: GRPCPartial(5, "all"), rejected: 5},
		{name: "forward then fail", answer: GRPCForwardThenFail(codes.Unavailable, "lost answer"), code: codes.Unavailable, forwarded: 5},
		{name: "hang", answer: GRPCHang(), timeout: 300 * time.Millisecond, code: codes.DeadlineExceeded},
	}
	answers := make([]GRPCAnswer, len(cases))
	for i, c := range cases {
		answers[i] = c.answer
	}
	f := NewGRPCFront(t, r.GRPCAddr, Sequence(answers...))
	client := grpcClient(t, f.Addr)

	var want []Record
	for i, c := range cases {
		from := i*perRequest + 1
		timeout := c.timeout
		if timeout == 0 {
			timeout = waitFor
		}
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		var opts []grpc.CallOption
		if c.compress != "" {
			opts = append(opts, grpc.UseCompressor(c.compress))
		}
		resp, err := client.Export(ctx, lines(from, perRequest), opts...)
		cancel()
		sent := RecordsOf(lines(from, perRequest), i+1)
		want = append(want, sent[:c.forwarded]...)

		st := status.Convert(err)
		if st.Code() != c.code {
			t.Errorf("%s: code %v (%v), want %v", c.name, st.Code(), err, c.code)
		}
		if got := retryDelay(st); got != c.retry {
			t.Errorf("%s: retry info %v, want %v", c.name, got, c.retry)
		}
		if err == nil {
			ps := resp.GetPartialSuccess()
			if ps.GetRejectedLogRecords() != int64(c.rejected) || ps.GetErrorMessage() != c.answer.Message {
				t.Errorf("%s: partial success %v, want %d rejected", c.name, ps, c.rejected)
			}
		}
		ex := f.WaitExchanges(i+1, waitFor)[i]
		sameRecords(t, c.name+": seen", ex.Records, sent)
		sameRecords(t, c.name+": forwarded", ex.Forwarded, sent[:c.forwarded])
		sameRecords(t, c.name+": rejected", ex.Rejected, sent[c.forwarded:c.forwarded+c.rejected])
		if ex.Answer != c.answer.Kind || ex.Acked != (c.code == codes.OK) || ex.Compression != c.compress {
			t.Errorf("%s: exchange answer %v acked %v code %v compression %q", c.name, ex.Answer, ex.Acked, ex.Code, ex.Compression)
		}
	}
	fence := RecordsOf(lines(1000, 1), 0)
	if _, err := client.Export(context.Background(), lines(1000, 1)); err != nil {
		t.Fatalf("fence: %v", err)
	}
	sameRecords(t, "received", r.Wait(len(want)+1, waitFor), append(want, fence...))
}

func retryDelay(st *status.Status) time.Duration {
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			return ri.GetRetryDelay().AsDuration()
		}
	}
	return 0
}

// A front that closes lets go of the requests it holds.
func TestFrontCloseReleasesHangs(t *testing.T) {
	r := Start(t, Options{})
	httpTaken, grpcTaken := make(chan struct{}), make(chan struct{})
	hf := NewHTTPFront(t, r.HTTPAddr, func(Seen) HTTPAnswer { close(httpTaken); return HTTPHang() })
	gf := NewGRPCFront(t, r.GRPCAddr, func(Seen) GRPCAnswer { close(grpcTaken); return GRPCHang() })
	httpDone := make(chan httpResult, 1)
	grpcDone := make(chan error, 1)
	body := protoBody(t, lines(1, 1))
	client := grpcClient(t, gf.Addr)
	go func() {
		httpDone <- post(t, hf.LogsURL(), "application/x-protobuf", "", body, waitFor)
	}()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		_, err := client.Export(ctx, lines(1, 1))
		grpcDone <- err
	}()
	for what, taken := range map[string]chan struct{}{"http": httpTaken, "grpc": grpcTaken} {
		select {
		case <-taken:
		case <-time.After(waitFor):
			t.Fatalf("the %s front took no request in %v", what, waitFor)
		}
	}
	hf.Close()
	gf.Close()
	if res := <-httpDone; res.err == nil {
		t.Errorf("http: status %d from a closed front", res.status)
	}
	if err := <-grpcDone; status.Code(err) != codes.Unavailable {
		t.Errorf("grpc: %v, want Unavailable", err)
	}
	if n := r.Count(); n != 0 {
		t.Errorf("the receiver got %d records from hanging requests", n)
	}
}

func TestSentAfterAck(t *testing.T) {
	rec := func(body string) Record { return Record{Body: StrValue(body)} }
	key := func(r Record) string { return r.Body.Str }
	cases := []struct {
		name string
		ex   []Exchange
		want []string
	}{
		{name: "retry of a failure", ex: []Exchange{
			{Records: []Record{rec("a"), rec("b")}},
			{Records: []Record{rec("a"), rec("b")}, Acked: true},
		}},
		{name: "re-send of an ack", ex: []Exchange{
			{Records: []Record{rec("a"), rec("b")}, Acked: true},
			{Records: []Record{rec("b"), rec("c")}, Acked: true},
		}, want: []string{"b"}},
		{name: "retry of a partial success's rejects", ex: []Exchange{
			{Records: []Record{rec("a"), rec("b")}, Rejected: []Record{rec("b")}, Acked: true},
			{Records: []Record{rec("b")}},
		}, want: []string{"b"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := SentAfterAck(c.ex, key)
			if len(got) != len(c.want) || (len(got) > 0 && got[0] != c.want[0]) {
				t.Errorf("SentAfterAck = %q, want %q", got, c.want)
			}
		})
	}
}
