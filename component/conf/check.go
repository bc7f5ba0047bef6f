package conf

import (
	"encoding/pem"
	"fmt"
	"net"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
)

// Checks a component's Validate uses. Each records a problem under path
// and reports whether the value was good.

// Positive requires n > 0.
func (e *Errors) Positive(path string, n int64) bool {
	if n <= 0 {
		e.Add(path, "must be more than 0")
		return false
	}
	return true
}

// NotNegative requires n >= 0.
func (e *Errors) NotNegative(path string, n int64) bool {
	if n < 0 {
		e.Add(path, "must not be negative")
		return false
	}
	return true
}

// Range requires lo <= n <= hi.
func (e *Errors) Range(path string, n, lo, hi int64) bool {
	if n < lo || n > hi {
		e.Add(path, "must be between %d and %d, got %d", lo, hi, n)
		return false
	}
	return true
}

// AtMost requires n <= max; unit formats both for the message.
func (e *Errors) AtMost(path string, n, max int64, unit func(int64) string) bool {
	if n > max {
		e.Add(path, "%s is over the limit of %s", unit(n), unit(max))
		return false
	}
	return true
}

// Required requires a non-empty value; what says what to give.
func (e *Errors) Required(path, value, what string) bool {
	if value == "" {
		e.Add(path, "missing: %s", what)
		return false
	}
	return true
}

// HostPort requires host:port with a port number (0 for any free port when
// zeroOK). The host may be empty (every address) or a name.
func (e *Errors) HostPort(path, addr string, zeroOK bool) bool {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || port == "" {
		e.Add(path, "%q is not host:port (write e.g. 127.0.0.1:5170 or :5170)", addr)
		return false
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 || n == 0 && !zeroOK {
		e.Add(path, "%q: port %q is not a port number (1 to 65535)", addr, port)
		return false
	}
	if strings.ContainsAny(host, " /") {
		e.Add(path, "%q: %q is not a host name or address", addr, host)
		return false
	}
	return true
}

// URL requires an absolute URL with one of schemes and a host.
func (e *Errors) URL(path, s string, schemes ...string) (*url.URL, bool) {
	u, err := url.Parse(s)
	if err != nil {
		e.Add(path, "%q is not a URL: %v", s, err)
		return nil, false
	}
	ok := false
	for _, sc := range schemes {
		ok = ok || u.Scheme == sc
	}
	if !ok {
		e.Add(path, "%q: want a URL starting with %s://", s, strings.Join(schemes, ":// or "))
		return nil, false
	}
	if u.Host == "" {
		e.Add(path, "%q: the URL has no host", s)
		return nil, false
	}
	return u, true
}

// Regexp requires an RE2 regular expression.
func (e *Errors) Regexp(path, expr string) (*regexp.Regexp, bool) {
	re, err := regexp.Compile(expr)
	if err != nil {
		e.Add(path, "bad regular expression: %v", strings.TrimPrefix(err.Error(), "error parsing regexp: "))
		return nil, false
	}
	return re, true
}

// Readable requires file to be a regular file this process can open; ""
// passes (the key is not set).
func (e *Errors) Readable(path, file string) bool {
	if file == "" {
		return true
	}
	// Stat first: opening a FIFO or a device could block validation.
	st, err := os.Stat(file)
	if err == nil && !st.Mode().IsRegular() {
		e.Add(path, "%s is not a regular file", file)
		return false
	}
	f, err := os.Open(file)
	if err != nil {
		e.Add(path, "cannot read %s: %v", file, unwrapPathError(err))
		return false
	}
	f.Close()
	return true
}

// PEM requires file to be readable and to hold at least one PEM block of
// one of types (e.g. CERTIFICATE; a key may be any "... PRIVATE KEY").
func (e *Errors) PEM(path, file string, types ...string) bool {
	if file == "" || !e.Readable(path, file) {
		return file == ""
	}
	b, err := os.ReadFile(file)
	if err != nil {
		e.Add(path, "cannot read %s: %v", file, unwrapPathError(err))
		return false
	}
	for rest := b; ; {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		for _, t := range types {
			if blk.Type == t || strings.HasPrefix(t, "*") && strings.HasSuffix(blk.Type, t[1:]) {
				return true
			}
		}
	}
	e.Add(path, "%s holds no PEM block of type %s", file, strings.Join(types, " or "))
	return false
}

// OneOf requires s to be one of values.
func (e *Errors) OneOf(path, s string, values ...string) bool {
	for _, v := range values {
		if s == v {
			return true
		}
	}
	e.Add(path, "%q is not one of %s%s", s, strings.Join(values, ", "), DidYouMean(s, values))
	return false
}

func unwrapPathError(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

// Unique reports the second and later of equal values in a list.
func (e *Errors) Unique(path string, values []string, what string) {
	seen := map[string]int{}
	for i, v := range values {
		if j, ok := seen[v]; ok {
			e.Add(Index(path, i), "%s %q is listed twice (also at [%d])", what, v, j)
			continue
		}
		seen[v] = i
	}
}

// SizeString formats a byte count as Size does, for messages.
func SizeString(n int64) string { return Size(n).String() }

// Quote is fmt's %q, for messages that name a value.
func Quote(s string) string { return fmt.Sprintf("%q", s) }
