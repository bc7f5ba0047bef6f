package httpc

import (
	"net/http"
	"sort"
	"strings"

	"github.com/capstan-agent/capstan/component/conf"
)

// ValidateHeaders checks a headers section: names are HTTP tokens, values
// hold no line breaks, and none is a header the output sets itself
// (reserved, lower case).
func ValidateHeaders(e *conf.Errors, path string, h map[string]string, reserved ...string) {
	names := make([]string, 0, len(h))
	for k := range h {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		p := conf.Join(path, k)
		switch {
		case !validHeaderName(k):
			e.Add(p, "%q is not a header name", k)
		case strings.ContainsAny(h[k], "\r\n\x00"):
			e.Add(p, "a header value may not hold a line break")
		}
		for _, r := range reserved {
			if strings.EqualFold(k, r) {
				e.Add(p, "the output sets %s itself", http.CanonicalHeaderKey(r))
			}
		}
	}
}

// validHeaderName: a token of RFC 9110 §5.6.2.
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			continue
		}
		if !strings.ContainsRune("!#$%&'*+-.^_`|~", rune(c)) {
			return false
		}
	}
	return true
}
