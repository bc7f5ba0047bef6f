package loki

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestClassify: Loki's answers, as its distributor and gateways give them.
func TestClassify(t *testing.T) {
	now := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name    string
		status  int
		h       http.Header
		body    string
		verdict verdict
		reason  string
		after   time.Duration
	}{
		{"204", 204, nil, "", delivered, "", 0},
		{"rate limited", 429, http.Header{"Retry-After": {"7"}}, "Ingestion rate limit exceeded for user fake", retry, "http_429", 7 * time.Second},
		{"retry-after a date", 503, http.Header{"Retry-After": {"Fri, 01 May 2026 10:00:30 GMT"}}, "too many unhealthy instances in the ring", retry, "http_503", 30 * time.Second},
		{"ingester error", 500, nil, "rpc error: code = Internal", retry, "http_500", 0},
		{"proxy timeout", 408, nil, "", retry, "http_408", 0},
		{"too large", 413, nil, "message size too large than max (9 vs 5)", tooLarge, "too_large", 0},
		{"too far behind", 400, nil, "entry with timestamp 2026-05-01 ignored, reason: 'entry too far behind, entry timestamp is: …", reject, "too_far_behind", 0},
		{"out of order (Loki 2.3)", 400, nil, "entry out of order for stream", reject, "out_of_order", 0},
		{"too old", 400, nil, "entry for stream '{app=\"x\"}' has timestamp too old: 2026-04-01", reject, "too_old", 0},
		{"too new", 400, nil, "entry for stream '{app=\"x\"}' has timestamp too new: 2027-01-01", reject, "too_far_in_future", 0},
		{"line too long", 400, nil, "Max entry size '262144' bytes exceeded for stream", reject, "line_too_long", 0},
		{"metadata", 400, nil, "stream '{a=\"b\"}' has too many structured metadata labels: '200', limit: '128'", reject, "structured_metadata", 0},
		{"labels", 400, nil, "error at least one label pair is required per stream", reject, "invalid_labels", 0},
		{"tenant", 400, nil, "tenant ID 'a/b' contains unsupported character '/'", reject, "invalid_tenant", 0},
		{"other 400", 400, nil, "something else", reject, "http_400", 0},
		{"no org id", 401, nil, "no org id", reject, "http_401", 0},
		{"not found", 404, nil, "404 page not found", reject, "http_404", 0},
	} {
		a := classify(tc.status, tc.h, []byte(tc.body+"\n"), now)
		if a.verdict != tc.verdict || a.reason != tc.reason || a.after != tc.after {
			t.Errorf("%s: %+v, want verdict %d reason %q after %v", tc.name, a, tc.verdict, tc.reason, tc.after)
		}
		if tc.body != "" && (a.err == nil || !strings.Contains(a.err.Error(), strings.TrimSpace(tc.body))) {
			t.Errorf("%s: error %v does not carry Loki's words", tc.name, a.err)
		}
	}
}
