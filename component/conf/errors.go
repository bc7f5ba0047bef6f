package conf

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// FieldError is one problem with one key.
type FieldError struct {
	Path string // key path, e.g. inputs.app.listen[0]
	Msg  string
}

func (e FieldError) Error() string {
	if e.Path == "" {
		return e.Msg
	}
	return e.Path + ": " + e.Msg
}

// Errors are problems of a configuration, each with its key path. A
// component's Validate returns them with paths relative to the component;
// the agent prefixes them with where the component sits.
type Errors []FieldError

func (e Errors) Error() string {
	lines := make([]string, len(e))
	for i, fe := range e {
		lines[i] = fe.Error()
	}
	return strings.Join(lines, "\n")
}

// Add records a problem with the key at path.
func (e *Errors) Add(path, format string, args ...any) {
	*e = append(*e, FieldError{Path: path, Msg: fmt.Sprintf(format, args...)})
}

// Merge adds the problems of err under prefix: FieldErrors keep their
// paths below prefix, any other error is a problem of prefix itself.
func (e *Errors) Merge(prefix string, err error) {
	if err == nil {
		return
	}
	var fe Errors
	if errors.As(err, &fe) {
		for _, f := range fe {
			*e = append(*e, FieldError{Path: JoinPath(prefix, f.Path), Msg: f.Msg})
		}
		return
	}
	var one FieldError
	if errors.As(err, &one) {
		*e = append(*e, FieldError{Path: JoinPath(prefix, one.Path), Msg: one.Msg})
		return
	}
	*e = append(*e, FieldError{Path: prefix, Msg: err.Error()})
}

// Err is e as an error, nil when there is no problem.
func (e Errors) Err() error {
	if len(e) == 0 {
		return nil
	}
	return e
}

// Sorted sorts the problems by key path, keeping the order of one key's.
func (e Errors) Sorted() Errors {
	sort.SliceStable(e, func(i, j int) bool { return e[i].Path < e[j].Path })
	return e
}

// Has reports whether a problem of path was recorded.
func (e Errors) Has(path string) bool {
	for _, f := range e {
		if f.Path == path {
			return true
		}
	}
	return false
}

// IsInvalid reports whether err is a configuration's content being wrong (as
// opposed to a file not being readable).
func IsInvalid(err error) bool {
	var e Errors
	return errors.As(err, &e)
}

// Join makes a key path of a parent path and a key; keys that are not plain
// words are quoted.
func Join(path, key string) string {
	if !ValidName(key) {
		key = fmt.Sprintf("%q", key)
	}
	if path == "" {
		return key
	}
	return path + "." + key
}

// JoinPath joins two key paths (the second may be empty or start with an
// index such as [2]).
func JoinPath(prefix, rel string) string {
	switch {
	case prefix == "":
		return rel
	case rel == "":
		return prefix
	case rel[0] == '[':
		return prefix + rel
	}
	return prefix + "." + rel
}

// Index is the key path of element i of the list at path.
func Index(path string, i int) string { return fmt.Sprintf("%s[%d]", path, i) }

// ValidName tells whether s may name a stream, an input or an output:
// letters, digits, _ and -, starting with a letter or digit.
func ValidName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case (r == '_' || r == '-') && i > 0:
		default:
			return false
		}
	}
	return true
}

// Suggest returns the candidate closest to s, if it is close enough to be a typo.
func Suggest(s string, candidates []string) string {
	best, bestD := "", 3
	for _, c := range candidates {
		if d := distance(s, c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// DidYouMean is `; did you mean "x"?` for the closest candidate, or "".
func DidYouMean(s string, candidates []string) string {
	if m := Suggest(s, candidates); m != "" {
		return fmt.Sprintf("; did you mean %q?", m)
	}
	return ""
}

// distance is the Levenshtein distance between a and b.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
