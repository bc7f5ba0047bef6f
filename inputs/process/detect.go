package process

import "bytes"

// Built-in secret detectors. Each scans text by hand (no regular
// expression: these run on every value of every record) and appends the
// spans to redact. docs/processors.md describes what each one matches.

type span struct{ start, end int }

// detector scans b; text shorter than min cannot hold what it finds, so it
// is not scanned (most fields are a word or a number).
type detector struct {
	scan func(b []byte, out []span) []span
	min  int
}

var detectors = map[string]detector{
	"card":         {detectCards, 13},
	"email":        {detectEmails, 6},
	"jwt":          {detectJWTs, 24},
	"aws_key":      {detectAWSKeys, 20},
	"github_token": {detectGitHubTokens, 33},
	"slack_token":  {detectSlackTokens, 15},
	"bearer":       {detectBearer, 15},
}

// detectorOrder is the order of the default "all detectors".
var detectorOrder = []string{"card", "email", "jwt", "aws_key", "github_token", "slack_token", "bearer"}

func isDigit(c byte) bool  { return c >= '0' && c <= '9' }
func isAlpha(c byte) bool  { return c|0x20 >= 'a' && c|0x20 <= 'z' }
func isAlnum(c byte) bool  { return isDigit(c) || isAlpha(c) }
func isB64URL(c byte) bool { return isAlnum(c) || c == '-' || c == '_' }

// detectCards finds payment card numbers: 13 to 19 digits, single spaces
// or dashes allowed between them, starting with 2 to 6 (the issuers' ranges),
// not inside a longer word or number, that pass the Luhn check.
func detectCards(b []byte, out []span) []span {
	var d [19]byte
	for i := 0; i < len(b); {
		if !isDigit(b[i]) {
			i++
			continue
		}
		if i > 0 && (isAlnum(b[i-1]) || b[i-1] == '.' || b[i-1] == '-') {
			for i < len(b) && isDigit(b[i]) {
				i++
			}
			continue
		}
		n, last, j := 0, i, i
		for j < len(b) {
			c := b[j]
			if isDigit(c) {
				if n < len(d) {
					d[n] = c - '0'
				}
				n++
				last = j
				j++
				continue
			}
			if (c == ' ' || c == '-') && j+1 < len(b) && isDigit(b[j+1]) {
				j++
				continue
			}
			break
		}
		end := last + 1
		if n >= 13 && n <= 19 && d[0] >= 2 && d[0] <= 6 && (end == len(b) || !isAlnum(b[end])) && luhn(d[:n]) {
			out = append(out, span{i, end})
		}
		i = end
	}
	return out
}

func luhn(d []byte) bool {
	sum := 0
	for i := len(d) - 1; i >= 0; i-- {
		v := int(d[i])
		if (len(d)-1-i)%2 == 1 {
			v *= 2
			if v > 9 {
				v -= 9
			}
		}
		sum += v
	}
	return sum%10 == 0
}

func isLocalChar(c byte) bool {
	return isAlnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-'
}

func isDomainChar(c byte) bool { return isAlnum(c) || c == '.' || c == '-' }

// detectEmails finds name@domain.tld: a local part of letters, digits and
// ._%+-, a domain of labels with a dot, the last label 2+ letters.
func detectEmails(b []byte, out []span) []span {
	for from := 0; from < len(b); {
		at := bytes.IndexByte(b[from:], '@')
		if at < 0 {
			break
		}
		at += from
		from = at + 1
		s := at
		for s > 0 && isLocalChar(b[s-1]) {
			s--
		}
		for s < at && b[s] == '.' {
			s++
		}
		if s == at {
			continue
		}
		e := at + 1
		for e < len(b) && isDomainChar(b[e]) {
			e++
		}
		for e > at+1 && (b[e-1] == '.' || b[e-1] == '-') {
			e--
		}
		dot := bytes.LastIndexByte(b[at+1:e], '.')
		if dot <= 0 {
			continue
		}
		tld := b[at+1+dot+1 : e]
		if len(tld) < 2 || !allAlpha(tld) {
			continue
		}
		out = append(out, span{s, e})
		from = e
	}
	return out
}

func allAlpha(b []byte) bool {
	for _, c := range b {
		if !isAlpha(c) {
			return false
		}
	}
	return true
}

// detectJWTs finds JSON Web Tokens: three base64url segments joined by
// dots, the first starting eyJ (base64 of `{"`), the first two at least 10
// characters long; the signature may be empty (alg none).
func detectJWTs(b []byte, out []span) []span {
	for from := 0; from < len(b); {
		k := bytes.Index(b[from:], []byte("eyJ"))
		if k < 0 {
			break
		}
		s := from + k
		from = s + 3
		if s > 0 && isB64URL(b[s-1]) {
			continue
		}
		e, ok := s, true
		for seg := 0; seg < 3 && ok; seg++ {
			st := e
			for e < len(b) && isB64URL(b[e]) {
				e++
			}
			switch {
			case seg < 2 && (e-st < 10 || e >= len(b) || b[e] != '.'):
				ok = false
			case seg < 2:
				e++ // the dot
			}
		}
		if ok {
			out = append(out, span{s, e})
			from = e
		}
	}
	return out
}

// awsPrefixes start AWS access key ids (long-term and temporary).
var awsPrefixes = [][]byte{[]byte("AKIA"), []byte("ASIA"), []byte("ABIA"), []byte("ACCA")}

// detectAWSKeys finds AWS access key ids: a known 4-letter prefix and 16
// upper-case letters or digits, as a whole word.
func detectAWSKeys(b []byte, out []span) []span {
	for from := 0; from+20 <= len(b); {
		k := bytes.IndexByte(b[from:len(b)-19], 'A')
		if k < 0 {
			break
		}
		s := from + k
		from = s + 1
		if s > 0 && isAlnum(b[s-1]) {
			continue
		}
		known := false
		for _, p := range awsPrefixes {
			known = known || bytes.HasPrefix(b[s:], p)
		}
		if !known {
			continue
		}
		e := s + 4
		for e < len(b) && e < s+20 && (isDigit(b[e]) || b[e] >= 'A' && b[e] <= 'Z') {
			e++
		}
		if e == s+20 && (e == len(b) || !isAlnum(b[e])) {
			out = append(out, span{s, e})
			from = e
		}
	}
	return out
}

// detectGitHubTokens finds GitHub tokens: ghp_, gho_, ghu_, ghs_ or ghr_
// and 36 or more letters and digits, or github_pat_ and 22 or more letters,
// digits and underscores.
func detectGitHubTokens(b []byte, out []span) []span {
	for from := 0; from < len(b); {
		k := bytes.IndexByte(b[from:], 'g')
		if k < 0 {
			break
		}
		s := from + k
		from = s + 1
		if s > 0 && isAlnum(b[s-1]) {
			continue
		}
		rest := b[s:]
		var e, min int
		var body func(byte) bool
		switch {
		case len(rest) >= 4 && rest[1] == 'h' && rest[3] == '_' && bytes.IndexByte([]byte("pousr"), rest[2]) >= 0:
			e, min, body = s+4, 36, isAlnum
		case bytes.HasPrefix(rest, []byte("github_pat_")):
			e, min, body = s+11, 22, func(c byte) bool { return isAlnum(c) || c == '_' }
		default:
			continue
		}
		st := e
		for e < len(b) && body(b[e]) {
			e++
		}
		if e-st >= min {
			out = append(out, span{s, e})
			from = e
		}
	}
	return out
}

// detectSlackTokens finds Slack tokens: xoxb-, xoxa-, xoxp-, xoxo-, xoxs-
// or xoxr- and 10 or more letters, digits and dashes.
func detectSlackTokens(b []byte, out []span) []span {
	for from := 0; from < len(b); {
		k := bytes.Index(b[from:], []byte("xox"))
		if k < 0 {
			break
		}
		s := from + k
		from = s + 3
		if s+5 > len(b) || bytes.IndexByte([]byte("abposr"), b[s+3]) < 0 || b[s+4] != '-' || (s > 0 && isAlnum(b[s-1])) {
			continue
		}
		e := s + 5
		for e < len(b) && (isAlnum(b[e]) || b[e] == '-') {
			e++
		}
		if e-(s+5) >= 10 {
			out = append(out, span{s, e})
			from = e
		}
	}
	return out
}

func isTokenChar(c byte) bool {
	return isAlnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/'
}

// detectBearer finds the token after "Bearer " (also bearer, BEARER):
// 8 or more token characters (RFC 6750) and trailing =; the word Bearer
// itself stays.
func detectBearer(b []byte, out []span) []span {
	out = bearerAfter(b, []byte("earer "), out)
	return bearerAfter(b, []byte("EARER "), out)
}

func bearerAfter(b, rest []byte, out []span) []span {
	for from := 1; from < len(b); {
		k := bytes.Index(b[from:], rest)
		if k < 0 {
			break
		}
		i := from + k - 1 // the B
		from = i + 7
		if b[i]|0x20 != 'b' || (i > 0 && isAlnum(b[i-1])) {
			continue
		}
		s := i + 7
		for s < len(b) && b[s] == ' ' {
			s++
		}
		e := s
		for e < len(b) && isTokenChar(b[e]) {
			e++
		}
		for e < len(b) && b[e] == '=' {
			e++
		}
		if e-s >= 8 {
			out = append(out, span{s, e})
			from = e
		}
	}
	return out
}
