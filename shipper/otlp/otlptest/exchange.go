package otlptest

import (
	"slices"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
)

// Exchange is one request a front took and what became of it.
type Exchange struct {
	N           int                 // 1 for the front's first request
	Transport   string              // "http" or "grpc"
	Encoding    string              // EncodingProtobuf or EncodingJSON
	Compression string              // Content-Encoding or grpc-encoding; "" for none
	Headers     map[string][]string // request headers or gRPC metadata, lower-case names
	// Records are the records the request carried, in order (nil when it
	// could not be decoded; DecodeErr says why).
	Records   []Record
	DecodeErr string

	// Answer is the kind of answer the script chose.
	Answer AnswerKind
	// Status is the HTTP status the client got (0: none, after a reset or
	// a hang); Code the gRPC code.
	Status int
	Code   codes.Code
	// Forwarded are the records the receiver accepted through this exchange
	// (all of them for a forward, the kept ones for a partial success).
	Forwarded []Record
	// Rejected are the records a partial success reported as rejected.
	Rejected []Record
	// Acked reports whether the client was told the request succeeded
	// (fully, or partially for the records not rejected).
	Acked bool
	// Done reports whether the front has finished with the request; until
	// then only the fields up to DecodeErr are filled in.
	Done bool
}

// AnswerKind is what a front does with a request.
type AnswerKind int

const (
	// Forward passes the request to the receiver and its answer back.
	Forward AnswerKind = iota
	// Fail answers an error without forwarding (HTTP status or gRPC code).
	Fail
	// Partial forwards all but the last Rejected records and answers a
	// partial success that names those as rejected.
	Partial
	// Reset closes the connection with a TCP reset without forwarding.
	Reset
	// ForwardThenReset forwards, then resets instead of answering: the
	// receiver has the records, the client never hears so.
	ForwardThenReset
	// ForwardThenFail forwards, then answers an error (gRPC).
	ForwardThenFail
	// Hang never answers: it holds the request until the client gives up
	// or the front closes.
	Hang
)

func (k AnswerKind) String() string {
	switch k {
	case Forward:
		return "forward"
	case Fail:
		return "fail"
	case Partial:
		return "partial"
	case Reset:
		return "reset"
	case ForwardThenReset:
		return "forward-then-reset"
	case ForwardThenFail:
		return "forward-then-fail"
	case Hang:
		return "hang"
	}
	return "unknown"
}

// Seen is what a script is told about a request before it answers.
type Seen struct {
	N           int
	Encoding    string
	Compression string
	Records     int // -1 when the request could not be decoded
}

// Script chooses the answer to each request. A nil Script forwards everything.
type Script[A any] func(Seen) A

// Sequence answers the first requests with the given answers in turn and
// forwards every request after them (the zero answer is a forward).
func Sequence[A any](answers ...A) Script[A] {
	return func(s Seen) A {
		if s.N <= len(answers) {
			return answers[s.N-1]
		}
		var forward A
		return forward
	}
}

// SentAfterAck returns the keys of records that a request carried after an
// earlier exchange had acknowledged them to the client (the re-sends OTLP
// says must not happen; a rejected record counts as acknowledged too: it is
// never to be retried). key names a record, e.g. by its log.record.uid.
func SentAfterAck(exchanges []Exchange, key func(Record) string) []string {
	acked := map[string]bool{}
	var again []string
	for _, ex := range exchanges {
		for _, r := range ex.Records {
			if k := key(r); acked[k] {
				again = append(again, k)
			}
		}
		if ex.Acked {
			for _, r := range ex.Records {
				acked[key(r)] = true
			}
		}
	}
	return again
}

// exchangeLog keeps a front's exchanges in arrival order and tells waiters
// when one is answered.
type exchangeLog struct {
	mu       sync.Mutex
	list     []Exchange
	answered int
	changed  chan struct{} // closed and replaced when an exchange is answered
}

func newExchangeLog() *exchangeLog { return &exchangeLog{changed: make(chan struct{})} }

// add numbers ex (and its records) and records it as under way.
func (l *exchangeLog) add(ex *Exchange) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ex.N = len(l.list) + 1
	for i := range ex.Records {
		ex.Records[i].Request = ex.N
	}
	l.list = append(l.list, *ex)
}

// finish records the answered exchange ex.
func (l *exchangeLog) finish(ex Exchange) {
	ex.Done = true
	l.mu.Lock()
	defer l.mu.Unlock()
	l.list[ex.N-1] = ex
	l.answered++
	close(l.changed)
	l.changed = make(chan struct{})
}

func (l *exchangeLog) snapshot() []Exchange {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.list)
}

// wait returns the exchanges once n of them are answered.
func (l *exchangeLog) wait(t testing.TB, what string, n int, timeout time.Duration) []Exchange {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		l.mu.Lock()
		answered, changed := l.answered, l.changed
		l.mu.Unlock()
		if answered >= n {
			return l.snapshot()
		}
		select {
		case <-changed:
		case <-deadline.C:
			t.Fatalf("%s answered %d requests in %v, waited for %d", what, answered, timeout, n)
		}
	}
}
