package httpout

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestClassify(t *testing.T) {
	now := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		status  int
		h       http.Header
		body    string
		verdict verdict
		reason  string
		after   time.Duration
		msg     string
	}{
		{200, nil, "", delivered, "", 0, ""},
		{204, nil, "", delivered, "", 0, ""},
		{408, nil, "", retry, "http_408", 0, "HTTP 408 Request Timeout"},
		{429, http.Header{"Retry-After": {"3"}}, "slow down", retry, "http_429", 3 * time.Second, "HTTP 429: slow down"},
		{500, nil, "boom", retry, "http_500", 0, "HTTP 500: boom"},
		{503, http.Header{"Retry-After": {"Fri, 01 May 2026 10:00:10 GMT"}}, "", retry, "http_503", 10 * time.Second, "HTTP 503"},
		{599, nil, "", retry, "http_599", 0, ""},
		{413, nil, "too big", tooLarge, "too_large", 0, "HTTP 413: too big"},
		{400, nil, "{\"error\":\n\"bad json\"}", reject, "http_400", 0, `HTTP 400: {"error": "bad json"}`},
		{401, nil, "", reject, "http_401", 0, "HTTP 401 Unauthorized"},
		{403, nil, "", reject, "http_403", 0, ""},
		{404, nil, "", reject, "http_404", 0, ""},
		{301, http.Header{"Location": {"https://x"}}, "", reject, "http_301", 0, "HTTP 301"},
	} {
		a := classify(tc.status, tc.h, []byte(tc.body), now)
		if a.verdict != tc.verdict || a.reason != tc.reason || a.after != tc.after {
			t.Errorf("%d: %+v", tc.status, a)
		}
		if a.err != nil && !strings.Contains(a.err.Error(), tc.msg) || a.err == nil && tc.msg != "" {
			t.Errorf("%d: error %v, want %q", tc.status, a.err, tc.msg)
		}
	}
}
