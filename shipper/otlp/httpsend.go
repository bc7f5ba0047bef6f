package otlp

import (
	"context"
	"io"
	"net/http"
	"time"

	"github.com/capstan-agent/capstan/shipper/httpc"
)

// answerLimit bounds how much of an answer body is read: an
// ExportLogsServiceResponse or a google.rpc.Status is small.
const answerLimit = 64 << 10

// httpTransport sends requests with OTLP/HTTP: POST of the
// ExportLogsServiceRequest to the logs URL.
type httpTransport struct {
	m           *mapping
	url         string
	contentType string
	headers     http.Header // the user's, and User-Agent
	auth        *httpc.Authorizer
	comp        *httpc.Compressor
	tr          *httpc.Transport
	client      *http.Client
}

func (t *httpTransport) send(ctx context.Context, body []byte, s *reqState) answer {
	head, mid, tail := t.m.assemble(s.payload, body, s)
	s.payload = head
	s.body.Parts = [3][]byte{head, mid, tail}
	if t.comp.Name() != httpc.None {
		s.zipped = t.comp.Append(s.zipped[:0], head, mid, tail)
		s.body.Parts = [3][]byte{s.zipped}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url, s.body.Reset())
	if err != nil {
		return answer{verdict: retry, reason: "request", err: err}
	}
	req.ContentLength = s.body.Len()
	req.GetBody = func() (io.ReadCloser, error) { return s.body.Reset(), nil }
	for k, v := range t.headers {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", t.contentType)
	if ce := t.comp.ContentEncoding(); ce != "" {
		req.Header.Set("Content-Encoding", ce)
	}
	if err := t.auth.Apply(req.Header); err != nil {
		return answer{verdict: retry, reason: "auth", err: err}
	}
	resp, err := t.client.Do(req)
	defer s.body.Finish()
	if err != nil {
		return answer{verdict: retry, reason: httpc.ErrorReason(err), err: err}
	}
	s.answer = httpc.ReadBody(resp, s.answer, answerLimit)
	return classifyHTTP(resp.StatusCode, resp.Header, s.answer, time.Now())
}

func (t *httpTransport) connections() int64 { return t.tr.Open() }

func (t *httpTransport) close() {
	t.tr.Close()
	t.comp.Close()
}
