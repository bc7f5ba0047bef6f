package httpc

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// RetryAfter reads a Retry-After header value (RFC 9110 §10.2.3): a number
// of seconds or an HTTP date, as a wait from now. ok is false when there is
// none or it does not parse; a date in the past is a wait of 0.
func RetryAfter(v string, now time.Time) (wait time.Duration, ok bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseUint(v, 10, 32); err == nil {
		return time.Duration(n) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(0, t.Sub(now)), true
}

// ErrorReason classes an error of a request that got no answer, for the
// failures_total label: timeout, canceled, tls, connect (no connection
// could be made) or connection (it broke).
func ErrorReason(err error) string {
	var netErr net.Error
	var opErr *net.OpError
	var recordErr tls.RecordHeaderError
	var verifyErr *tls.CertificateVerificationError
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var alert tls.AlertError
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.As(err, &recordErr), errors.As(err, &verifyErr), errors.As(err, &unknownCA),
		errors.As(err, &hostErr), errors.As(err, &alert):
		return "tls"
	case errors.As(err, &netErr) && netErr.Timeout():
		return "timeout"
	case errors.As(err, &opErr) && opErr.Op == "dial":
		return "connect"
	}
	return "connection"
}

// ReadBody reads up to limit bytes of an answer's body into dst, then
// drains a little more and closes it, so that the connection can serve the
// next request. The answer's words are for the log and the dead letter: a
// cut is no loss.
func ReadBody(resp *http.Response, dst []byte, limit int) []byte {
	defer resp.Body.Close()
	dst = dst[:0]
	for len(dst) < limit {
		if len(dst) == cap(dst) {
			dst = append(dst, 0)[:len(dst)]
		}
		end := min(cap(dst), limit)
		n, err := resp.Body.Read(dst[len(dst):end])
		dst = dst[:len(dst)+n]
		if err != nil {
			return dst
		}
	}
	io.CopyN(io.Discard, resp.Body, 64<<10)
	return dst
}

// Snippet is the start of an answer's body for a message: one line, at
// most 512 bytes.
func Snippet(b []byte) string {
	s := strings.TrimSpace(string(b[:min(len(b), 512)]))
	s = strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' || r == '\t' {
			return ' '
		}
		return r
	}, s)
	return s
}
