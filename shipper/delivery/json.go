package delivery

import (
	"encoding/binary"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/capstan-agent/capstan/spool/batch"
)

// AppendNDJSON appends rec as one NDJSON line:
// {"ts":"<RFC 3339>","attrs":{…},"body":"…"} and a newline. attrs holds the
// record's source attributes first, then its own, which win on a clash only
// in the reader's eyes (both are written). It does not allocate beyond
// growing out. The stdout, tcp and file outputs and the dead-letter file
// write this.
func AppendNDJSON(out []byte, rec *Record) []byte {
	return append(appendJSON(out, rec, nil), '\n')
}

// AppendJSON is AppendNDJSON without the newline.
func AppendJSON(out []byte, rec *Record) []byte { return appendJSON(out, rec, nil) }

func appendJSON(out []byte, rec *Record, extra []batch.Attr) []byte {
	out = append(out, `{"ts":"`...)
	out = time.Unix(0, rec.Timestamp).UTC().AppendFormat(out, time.RFC3339Nano)
	out = append(out, '"')
	src, own := rec.SourceAttrs(), rec.Attrs()
	if src.Len()+own.Len()+len(extra) > 0 {
		out = append(out, `,"attrs":{`...)
		first := true
		attr := func(k, v []byte) {
			if !first {
				out = append(out, ',')
			}
			first = false
			out = AppendJSONString(out, k)
			out = append(out, ':')
			out = AppendJSONString(out, v)
		}
		for k, v, ok := src.Next(); ok; k, v, ok = src.Next() {
			attr(k, v)
		}
		for k, v, ok := own.Next(); ok; k, v, ok = own.Next() {
			attr(k, v)
		}
		for _, a := range extra {
			attr(a.Key, a.Value)
		}
		out = append(out, '}')
	}
	out = append(out, `,"body":`...)
	out = AppendJSONString(out, rec.Body)
	return append(out, '}')
}

const hex = "0123456789abcdef"

const (
	lo8 = 0x0101010101010101
	hi8 = 0x8080808080808080
)

// needsEscape8 tells whether any of the eight bytes of w is a control
// character, '"', '\\' or not ASCII (the classic SWAR zero-byte tests).
func needsEscape8(w uint64) bool {
	zero := func(v uint64) uint64 { return (v - lo8) & ^v & hi8 }
	less := (w - 0x20*lo8) & ^w & hi8
	return (w&hi8)|less|zero(w^('"'*lo8))|zero(w^('\\'*lo8)) != 0
}

// safe marks the ASCII bytes a JSON string holds as they are.
var safe = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// AppendJSONString appends s as a JSON string; invalid UTF-8 becomes
// U+FFFD (as encoding/json does), U+2028 and U+2029 are escaped. It checks
// eight bytes at a time for bytes that need escaping.
func AppendJSONString(out, s []byte) []byte {
	out = append(out, '"')
	for i := 0; i < len(s); {
		// Copy the run of bytes that need no escaping in one go, checking
		// eight at a time.
		j := i
		for j+8 <= len(s) && !needsEscape8(binary.LittleEndian.Uint64(s[j:])) {
			j += 8
		}
		for j < len(s) && safe[s[j]] {
			j++
		}
		out = append(out, s[i:j]...)
		if i = j; i >= len(s) {
			break
		}
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				out = append(out, '\\', c)
			case c == '\n':
				out = append(out, '\\', 'n')
			case c == '\r':
				out = append(out, '\\', 'r')
			case c == '\t':
				out = append(out, '\\', 't')
			case c < 0x20:
				out = append(out, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				out = append(out, c)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && n == 1 {
			out = append(out, `\ufffd`...)
		} else if r == '\u2028' || r == '\u2029' {
			out = append(out, `\u`...)
			out = strconv.AppendInt(out, int64(r), 16)
		} else {
			out = append(out, s[i:i+n]...)
		}
		i += n
	}
	return append(out, '"')
}
