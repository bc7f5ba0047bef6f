package lines

import (
	"encoding/binary"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/capstan-agent/capstan/spool/batch"
)

// AppendNDJSON appends a record as one NDJSON line,
// {"ts":"<RFC 3339>","attrs":{…},"body":"…"} and a newline: the batch's
// source attributes src first, then the record's own, which win on a clash
// only in the reader's eyes (both are written). It does not allocate beyond
// growing out. The stdout, file and tcp outputs all write this.
func AppendNDJSON(out []byte, src batch.AttrIter, rec *batch.Record) []byte {
	out = append(out, `{"ts":"`...)
	out = time.Unix(0, rec.Timestamp).UTC().AppendFormat(out, time.RFC3339Nano)
	out = append(out, '"')
	own := rec.Attrs()
	if src.Len()+own.Len() > 0 {
		out = append(out, `,"attrs":{`...)
		first := true
		for _, it := range []*batch.AttrIter{&src, &own} {
			for k, v, ok := it.Next(); ok; k, v, ok = it.Next() {
				if !first {
					out = append(out, ',')
				}
				first = false
				out = appendJSONString(out, k)
				out = append(out, ':')
				out = appendJSONString(out, v)
			}
		}
		out = append(out, '}')
	}
	out = append(out, `,"body":`...)
	out = appendJSONString(out, rec.Body)
	return append(out, '}', '\n')
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

// appendJSONString appends s as a JSON string; invalid UTF-8 becomes U+FFFD.
func appendJSONString(out, s []byte) []byte {
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
