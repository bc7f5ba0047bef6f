package loki

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/capstan-agent/capstan/shipper/delivery"
	"github.com/capstan-agent/capstan/shipper/httpc"
)

// classify classes Loki's answer:
//
//   - 2xx: taken.
//   - 429 (ingestion rate limit, or the stream limit) and 5xx: nothing or
//     part of it taken; sent again after the backoff and Retry-After. A part
//     Loki took is dropped the second time as an exact repeat of
//     (timestamp, line).
//   - 408: the server or a proxy timed out: sent again.
//   - 413: too large: split.
//   - 400: Loki refused entries for good (their labels, age, size, order);
//     it stored the others of the push. Never retried: the whole request
//     goes to the dead letter with Loki's words, under a reason from them.
//   - any other status (401, 403, 404 …): refused for good, as 400.
func classify(status int, h http.Header, body []byte, now time.Time) answer {
	switch {
	case status >= 200 && status < 300:
		return answer{verdict: delivered}
	case status == http.StatusTooManyRequests || status == http.StatusRequestTimeout || status >= 500 && status < 600:
		a := answer{verdict: retry, reason: "http_" + strconv.Itoa(status), err: statusError(status, body)}
		a.after, _ = httpc.RetryAfter(h.Get("Retry-After"), now)
		return a
	case status == http.StatusRequestEntityTooLarge:
		return answer{verdict: tooLarge, reason: "too_large", err: statusError(status, body)}
	case status == http.StatusBadRequest:
		return answer{verdict: reject, reason: refusal(body), err: statusError(status, body)}
	}
	return answer{verdict: reject, reason: "http_" + strconv.Itoa(status), err: statusError(status, body)}
}

type verdict uint8

const (
	delivered verdict = iota
	retry             // nothing (or a part Loki drops when repeated) taken: send again
	reject            // refused for good: to the dead letter
	tooLarge          // refused for its size: split
)

// answer is what one push came to.
type answer struct {
	verdict verdict
	reason  string // a class: the failures_total or dead_letter_records_total label
	err     error
	after   time.Duration // Retry-After
}

// result is the engine's result of a.
func (a answer) result() delivery.Result {
	switch a.verdict {
	case retry:
		r := delivery.Retry(a.reason, a.err)
		if a.after > 0 {
			r = r.After(a.after)
		}
		return r
	case reject:
		return delivery.Reject(a.reason, a.err)
	case tooLarge:
		return delivery.TooLarge(a.err)
	}
	return delivery.Delivered()
}

// refusals map words of Loki's 400 answers to reasons (a label of
// dead_letter_records_total), first match wins.
var refusals = []struct{ words, reason string }{
	{"too far behind", "too_far_behind"},
	{"out of order", "out_of_order"},
	{"timestamp too old", "too_old"},
	{"timestamp too new", "too_far_in_future"},
	{"Max entry size", "line_too_long"},
	{"structured metadata", "structured_metadata"},
	{"label", "invalid_labels"},
	{"tenant", "invalid_tenant"},
}

func refusal(body []byte) string {
	for _, r := range refusals {
		if strings.Contains(string(body), r.words) {
			return r.reason
		}
	}
	return "http_400"
}

func statusError(status int, body []byte) error {
	if msg := httpc.Snippet(body); msg != "" {
		return fmt.Errorf("Loki answered HTTP %d: %s", status, msg)
	}
	return fmt.Errorf("Loki answered HTTP %d %s", status, http.StatusText(status))
}
