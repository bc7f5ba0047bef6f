package delivery

import "time"

// Result is a sender's answer for one request. Build it with Delivered,
// Retry, Reject or TooLarge.
type Result struct {
	kind   outcome
	reason string
	err    error
	after  time.Duration
}

type outcome uint8

const (
	delivered outcome = iota
	retry
	reject
	tooLarge
)

// Delivered: the destination took the request. Records marked on the
// request (RetryRecord, RejectRecord, DuplicateRecord) are handled as
// marked; the others are delivered.
func Delivered() Result { return Result{kind: delivered} }

// Retry: nothing was taken and the request may succeed later (a connection
// error, a 503). reason is a short class (a metric label: "connection",
// "http_503"); err says what happened, for the log. It is sent again after
// a backoff with jitter, forever unless retry.max_attempts is set.
func Retry(reason string, err error) Result { return Result{kind: retry, reason: reason, err: err} }

// After is r with the wait the destination asked for (Retry-After, gRPC
// RetryInfo): the next attempt waits at least d (at most MaxRetryAfter).
func (r Result) After(d time.Duration) Result {
	r.after = d
	return r
}

// Reject: the destination refused the request for good (a 400): every
// record goes to the dead letter with reason and err's text.
func Reject(reason string, err error) Result { return Result{kind: reject, reason: reason, err: err} }

// TooLarge: the destination refused the request for its size (a 413): it
// is split in two and each half sent on its own; a single record too large
// goes to the dead letter.
func TooLarge(err error) Result { return Result{kind: tooLarge, reason: "too_large", err: err} }

// MaxRetryAfter bounds the wait a destination may ask for.
const MaxRetryAfter = 5 * time.Minute

func (r Result) detail() string {
	if r.err == nil {
		return r.reason
	}
	return r.err.Error()
}
