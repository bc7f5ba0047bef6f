package process

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/capstan-agent/capstan/spool/batch"
)

// LinesOptions configure RunLines.
type LinesOptions struct {
	// Source are the source attributes every line gets (what the input
	// would set, e.g. k8s.namespace.name).
	Source []Field
	// Stream is the input's stream, before any route.
	Stream string
	// Time is every line's arrival time, unix nanoseconds; 0 takes the
	// clock at each line.
	Time int64
	// MaxLineBytes cuts longer lines there (the rest of the line is
	// skipped and the cut counted); 0 is 1 MiB.
	MaxLineBytes int
}

// LinesSummary counts what RunLines did.
type LinesSummary struct {
	Lines, Kept, Truncated int
	Dropped                map[string]int // by reason
}

// RunLines runs c over the lines of in, one record per line (without its
// line end), and writes what would be appended to the spool, one JSON
// object per line:
//
//	{"line":1,"time":"2026-05-01T10:00:00.123Z","stream":"prod","body":"...","fields":{"status":200}}
//	{"line":2,"dropped":"filter","processor":"processors[3]","input":"..."}
//
// It is what `capstan process` prints. It stops at the end of in, at an
// error, or when ctx is done.
func RunLines(ctx context.Context, c *Chain, in io.Reader, out io.Writer, opts LinesOptions) (LinesSummary, error) {
	sum := LinesSummary{Dropped: map[string]int{}}
	max := opts.MaxLineBytes
	if max <= 0 {
		max = 1 << 20
	}
	br := bufio.NewReaderSize(in, 64<<10)
	bw := bufio.NewWriter(out)
	rn := c.NewRunner()
	defer rn.Flush()
	var line, buf []byte
	var r Record
	for {
		if err := ctx.Err(); err != nil {
			return sum, err
		}
		var cut, eof bool
		var err error
		line, cut, eof, err = readLine(br, line[:0], max)
		if err != nil {
			return sum, fmt.Errorf("read line %d: %w", sum.Lines+1, err)
		}
		if eof && len(line) == 0 {
			break
		}
		sum.Lines++
		if cut {
			sum.Truncated++
		}
		ts := opts.Time
		if ts == 0 {
			ts = time.Now().UnixNano()
		}
		r.Reset(ts, line, opts.Source, opts.Stream)
		res := rn.Process(&r)
		buf = appendResultJSON(buf[:0], sum.Lines, line, &r, res, c)
		if res.Kept() {
			sum.Kept++
		} else {
			sum.Dropped[res.Reason.String()]++
		}
		if _, err := bw.Write(buf); err != nil {
			return sum, fmt.Errorf("write record of line %d: %w", sum.Lines, err)
		}
		if eof {
			break
		}
	}
	if err := bw.Flush(); err != nil {
		return sum, fmt.Errorf("write records: %w", err)
	}
	return sum, nil
}

// readLine reads one line into dst without its \n or \r\n, keeping at most
// max bytes of it.
func readLine(br *bufio.Reader, dst []byte, max int) (line []byte, cut, eof bool, err error) {
	for {
		frag, err := br.ReadSlice('\n')
		if err == nil {
			frag = frag[:len(frag)-1]
		}
		if room := max - len(dst); len(frag) > room {
			cut, frag = true, frag[:room]
		}
		dst = append(dst, frag...)
		switch {
		case err == nil:
			if !cut && len(dst) > 0 && dst[len(dst)-1] == '\r' {
				dst = dst[:len(dst)-1]
			}
			return dst, cut, false, nil
		case errors.Is(err, bufio.ErrBufferFull):
		case errors.Is(err, io.EOF):
			return dst, cut, true, nil
		default:
			return dst, cut, false, err
		}
	}
}

// appendResultJSON appends one line of RunLines's output.
func appendResultJSON(dst []byte, n int, input []byte, r *Record, res Result, c *Chain) []byte {
	dst = strconv.AppendInt(append(dst, `{"line":`...), int64(n), 10)
	if !res.Kept() {
		dst = appendJSONString(append(dst, `,"dropped":`...), []byte(res.Reason.String()))
		dst = appendJSONString(append(dst, `,"processor":`...), []byte(c.nodes[res.Processor].path))
		dst = appendJSONString(append(dst, `,"input":`...), input)
		return append(dst, "}\n"...)
	}
	dst = append(dst, `,"time":"`...)
	dst = time.Unix(0, r.Time).UTC().AppendFormat(dst, time.RFC3339Nano)
	dst = appendJSONString(append(dst, `","stream":`...), []byte(r.Stream))
	dst = appendJSONString(append(dst, `,"body":`...), r.Body)
	dst = appendFieldsJSON(append(dst, `,"fields":`...), r.Fields)
	return append(dst, "}\n"...)
}

// appendFieldsJSON appends fields as a JSON object, each value as its kind.
func appendFieldsJSON(dst []byte, fields []Field) []byte {
	dst = append(dst, '{')
	for i, f := range fields {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, f.Key)
		dst = appendValueJSON(append(dst, ':'), f)
	}
	return append(dst, '}')
}

// appendValueJSON and appendJSONString are the batch package's JSON
// writers: capstan process prints values as every JSON output writes them.
func appendValueJSON(dst []byte, f Field) []byte { return batch.AppendJSONValue(dst, f) }

func appendJSONString(dst, b []byte) []byte { return batch.AppendJSONString(dst, b) }
