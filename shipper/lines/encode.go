package lines

import (
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/capstan-agent/capstan/spool/batch"
)

// Format is how a record becomes a line.
type Format string

// Formats.
const (
	// Raw writes the record body and a newline.
	Raw Format = "raw"
	// NDJSON writes {"ts":"<RFC 3339>","body":"...","attrs":{...}} and a
	// newline; attrs holds the batch's source attributes then the record's own.
	NDJSON Format = "ndjson"
)

// Validate checks the value; empty means Raw.
func (f Format) Validate() error {
	switch f {
	case "", Raw, NDJSON:
		return nil
	}
	return fmt.Errorf("format %q: want raw or ndjson", string(f))
}

// encoder appends the lines of whole batches to a buffer it keeps.
type encoder struct {
	format Format
	buf    []byte
	attrs  []batch.Attr // source attributes of the current batch, reused
}

// appendBatches appends a line per record of the batches in b whose offset
// is at least from; it returns the number of lines.
func (e *encoder) appendBatches(b []byte, from uint64) (int, error) {
	lines := 0
	for len(b) > 0 {
		bt, size, err := batch.Decode(b)
		if err != nil {
			return lines, err
		}
		b = b[size:]
		if bt.NextOffset() <= from {
			continue
		}
		e.attrs = e.attrs[:0]
		if e.format == NDJSON {
			it := bt.SourceAttrs()
			for k, v, ok := it.Next(); ok; k, v, ok = it.Next() {
				e.attrs = append(e.attrs, batch.Attr{Key: k, Value: v})
			}
		}
		it := bt.Records()
		var rec batch.Record
		for it.Next(&rec) {
			if rec.Offset < from {
				continue
			}
			e.appendRecord(&rec)
			lines++
		}
		if err := it.Err(); err != nil {
			return lines, err
		}
	}
	return lines, nil
}

func (e *encoder) appendRecord(r *batch.Record) {
	if e.format != NDJSON {
		e.buf = append(e.buf, r.Body...)
		e.buf = append(e.buf, '\n')
		return
	}
	e.buf = append(e.buf, `{"ts":"`...)
	e.buf = time.Unix(0, r.Timestamp).UTC().AppendFormat(e.buf, time.RFC3339Nano)
	e.buf = append(e.buf, `","body":`...)
	e.buf = appendJSONString(e.buf, r.Body)
	ra := r.Attrs()
	if len(e.attrs) > 0 || ra.Len() > 0 {
		e.buf = append(e.buf, `,"attrs":{`...)
		first := true
		sep := func() {
			if !first {
				e.buf = append(e.buf, ',')
			}
			first = false
		}
		for _, a := range e.attrs {
			sep()
			e.buf = appendJSONString(e.buf, a.Key)
			e.buf = append(e.buf, ':')
			e.buf = appendJSONString(e.buf, a.Value)
		}
		for k, v, ok := ra.Next(); ok; k, v, ok = ra.Next() {
			sep()
			e.buf = appendJSONString(e.buf, k)
			e.buf = append(e.buf, ':')
			e.buf = appendJSONString(e.buf, v)
		}
		e.buf = append(e.buf, '}')
	}
	e.buf = append(e.buf, "}\n"...)
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string; invalid UTF-8 becomes U+FFFD,
// as encoding/json does.
func appendJSONString(b, s []byte) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
