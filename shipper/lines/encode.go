package lines

import (
	"fmt"

	"github.com/capstan-agent/capstan/spool/batch"
)

// Format is how a record becomes a line.
type Format string

// Formats.
const (
	// Raw writes the record body and a newline.
	Raw Format = "raw"
	// NDJSON writes {"ts":"<RFC 3339>","attrs":{...},"body":...} and a
	// newline; attrs holds the batch's source attributes then the record's
	// own, each value as JSON of its kind (see AppendNDJSON).
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
		it := bt.Records()
		var rec batch.Record
		for it.Next(&rec) {
			if rec.Offset < from {
				continue
			}
			if e.format == NDJSON {
				e.buf = AppendNDJSON(e.buf, bt.SourceAttrs(), &rec)
			} else {
				e.buf = append(append(e.buf, rec.Body...), '\n')
			}
			lines++
		}
		if err := it.Err(); err != nil {
			return lines, err
		}
	}
	return lines, nil
}
