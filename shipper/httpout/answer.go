package httpout

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/capstan-agent/capstan/shipper/httpc"
)

type verdict uint8

const (
	delivered verdict = iota
	retry             // nothing taken: send again after `after` at least
	reject            // refused for good: to the dead letter
	tooLarge          // refused for its size: split
)

// answer is what one send came to.
type answer struct {
	verdict verdict
	reason  string // a class: the failures_total or dead_letter_records_total label
	err     error
	after   time.Duration
}

// classify classes an HTTP answer as HTTP services mean their statuses: 2xx
// took the request; 408 (the server timed out), 429 (throttled) and 5xx
// may work later, honouring Retry-After; 413 asks for less at once; any
// other status is a refusal of these records (a 400 names bad data, a 401
// or 403 a key the server does not take): they go to the dead letter.
func classify(status int, h http.Header, body []byte, now time.Time) answer {
	reason := "http_" + strconv.Itoa(status)
	switch {
	case status >= 200 && status < 300:
		return answer{verdict: delivered}
	case status == http.StatusRequestTimeout || status == http.StatusTooManyRequests || status >= 500 && status < 600:
		a := answer{verdict: retry, reason: reason, err: statusError(status, body)}
		a.after, _ = httpc.RetryAfter(h.Get("Retry-After"), now)
		return a
	case status == http.StatusRequestEntityTooLarge:
		return answer{verdict: tooLarge, reason: "too_large", err: statusError(status, body)}
	}
	return answer{verdict: reject, reason: reason, err: statusError(status, body)}
}

func statusError(status int, body []byte) error {
	if msg := httpc.Snippet(body); msg != "" {
		return fmt.Errorf("HTTP %d: %s", status, msg)
	}
	return fmt.Errorf("HTTP %d %s", status, http.StatusText(status))
}
