package lines

import (
	"fmt"
	"strconv"

	"github.com/capstan-agent/capstan/shipper/delivery"
)

// Format is how a record becomes a line.
type Format string

// Formats.
const (
	// Raw writes the record body.
	Raw Format = "raw"
	// NDJSON writes {"ts":"<RFC 3339>","attrs":{...},"body":...} and a
	// newline; attrs holds the batch's source attributes then the record's
	// own, each value as JSON of its kind (see delivery.AppendNDJSON).
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

// encoder appends a record as a line: its body or NDJSON, then a newline,
// or with octet counting its length, a space, and the line without a
// newline (RFC 6587).
type encoder struct {
	format Format
	octet  bool
}

// Encode appends rec to req.Body.
func (e encoder) Encode(req *delivery.Request, rec *delivery.Record) error {
	if !e.octet {
		if e.format == NDJSON {
			req.Body = delivery.AppendNDJSON(req.Body, rec)
		} else {
			req.Body = append(append(req.Body, rec.Body...), '\n')
		}
		return nil
	}
	if e.format != NDJSON {
		req.Body = strconv.AppendInt(req.Body, int64(len(rec.Body)), 10)
		req.Body = append(append(req.Body, ' '), rec.Body...)
		return nil
	}
	// The length comes first and is known once the JSON is written: write
	// it, then move it behind its length.
	start := len(req.Body)
	req.Body = delivery.AppendJSON(req.Body, rec)
	var num [24]byte
	prefix := append(strconv.AppendInt(num[:0], int64(len(req.Body)-start), 10), ' ')
	req.Body = append(req.Body, prefix...)
	copy(req.Body[start+len(prefix):], req.Body[start:len(req.Body)-len(prefix)])
	copy(req.Body[start:], prefix)
	return nil
}
