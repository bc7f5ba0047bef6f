package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"sync"

	"go.opentelemetry.io/collector/client"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
)

// The JSON lines written per request: one "request" line, then one "record"
// line per LogRecord in the order the request held them. The otlptest package
// of the main module decodes them; keep both in step (docs/testing.md).

type requestLine struct {
	Kind    string              `json:"kind"`
	Request int                 `json:"request"`
	Records int                 `json:"records"`
	Headers map[string][]string `json:"headers"`
}

type recordLine struct {
	Kind                   string     `json:"kind"`
	Request                int        `json:"request"`
	Resource               resource   `json:"resource"`
	Scope                  scope      `json:"scope"`
	TimeUnixNano           uint64     `json:"time_unix_nano"`
	ObservedTimeUnixNano   uint64     `json:"observed_time_unix_nano"`
	SeverityNumber         int32      `json:"severity_number"`
	SeverityText           string     `json:"severity_text"`
	EventName              string     `json:"event_name"`
	Body                   value      `json:"body"`
	Attributes             []keyValue `json:"attributes"`
	DroppedAttributesCount uint32     `json:"dropped_attributes_count"`
	TraceID                string     `json:"trace_id"`
	SpanID                 string     `json:"span_id"`
	Flags                  uint32     `json:"flags"`
}

type resource struct {
	Attributes             []keyValue `json:"attributes"`
	DroppedAttributesCount uint32     `json:"dropped_attributes_count"`
	SchemaURL              string     `json:"schema_url"`
}

type scope struct {
	Name       string     `json:"name"`
	Version    string     `json:"version"`
	Attributes []keyValue `json:"attributes"`
	SchemaURL  string     `json:"schema_url"`
}

type keyValue struct {
	Key   string `json:"key"`
	Value value  `json:"value"`
}

// value is an AnyValue with its type kept: "Str", "Int", "Double", "Bool",
// "Bytes" (base64), "Slice", "Map" or "Empty", as pdata names them.
type value struct {
	Type  string          `json:"type"`
	Value json.RawMessage `json:"value,omitempty"`
}

// lineWriter turns each request into JSON lines, appends them to the output
// with one write, and only then announces the request on the notice stream.
type lineWriter struct {
	mu       sync.Mutex
	out      io.Writer
	notice   io.Writer
	requests int   // requests consumed, counting from the -request-base
	end      int64 // size of the output file after the last write
	failed   error
	buf      bytes.Buffer
}

func newLineWriter(out, notice io.Writer, requestBase int, size int64) *lineWriter {
	return &lineWriter{out: out, notice: notice, requests: requestBase, end: size}
}

func (w *lineWriter) consume(ctx context.Context, ld plog.Logs) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.requests++
	w.buf.Reset()
	enc := json.NewEncoder(&w.buf)
	enc.SetEscapeHTML(false)
	headers := map[string][]string{}
	md := client.FromContext(ctx).Metadata
	for k := range md.Keys() {
		headers[k] = md.Get(k)
	}
	if err := enc.Encode(requestLine{Kind: "request", Request: w.requests, Records: ld.LogRecordCount(), Headers: headers}); err != nil {
		return w.fail(fmt.Errorf("encode request line: %w", err))
	}
	for _, rl := range ld.ResourceLogs().All() {
		res := resource{
			Attributes:             keyValues(rl.Resource().Attributes()),
			DroppedAttributesCount: rl.Resource().DroppedAttributesCount(),
			SchemaURL:              rl.SchemaUrl(),
		}
		for _, sl := range rl.ScopeLogs().All() {
			sc := scope{
				Name:       sl.Scope().Name(),
				Version:    sl.Scope().Version(),
				Attributes: keyValues(sl.Scope().Attributes()),
				SchemaURL:  sl.SchemaUrl(),
			}
			for _, lr := range sl.LogRecords().All() {
				line := recordLine{
					Kind:                   "record",
					Request:                w.requests,
					Resource:               res,
					Scope:                  sc,
					TimeUnixNano:           uint64(lr.Timestamp()),
					ObservedTimeUnixNano:   uint64(lr.ObservedTimestamp()),
					SeverityNumber:         int32(lr.SeverityNumber()),
					SeverityText:           lr.SeverityText(),
					EventName:              lr.EventName(),
					Body:                   anyValue(lr.Body()),
					Attributes:             keyValues(lr.Attributes()),
					DroppedAttributesCount: lr.DroppedAttributesCount(),
					Flags:                  uint32(lr.Flags()),
				}
				if id := lr.TraceID(); !id.IsEmpty() {
					line.TraceID = hex.EncodeToString(id[:])
				}
				if id := lr.SpanID(); !id.IsEmpty() {
					line.SpanID = hex.EncodeToString(id[:])
				}
				if err := enc.Encode(line); err != nil {
					return w.fail(fmt.Errorf("encode record line: %w", err))
				}
			}
		}
	}
	n, err := w.out.Write(w.buf.Bytes())
	w.end += int64(n)
	if err != nil {
		return w.fail(fmt.Errorf("write output: %w", err))
	}
	// The reader of the file trusts only bytes up to the end announced here.
	if _, err := fmt.Fprintf(w.notice, "request %d records %d end %d\n", w.requests, ld.LogRecordCount(), w.end); err != nil {
		return w.fail(fmt.Errorf("write notice: %w", err))
	}
	return nil
}

// fail remembers the first error; the receiver answers the client with it
// (a non-permanent error: HTTP 503 / gRPC Unavailable), so nothing is lost
// silently, and the process exits non-zero when stopped.
func (w *lineWriter) fail(err error) error {
	if w.failed == nil {
		w.failed = err
	}
	return err
}

func (w *lineWriter) err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.failed
}

func keyValues(m pcommon.Map) []keyValue {
	kvs := make([]keyValue, 0, m.Len())
	for k, v := range m.All() {
		kvs = append(kvs, keyValue{Key: k, Value: anyValue(v)})
	}
	return kvs
}

func anyValue(v pcommon.Value) value {
	out := value{Type: v.Type().String()}
	switch v.Type() {
	case pcommon.ValueTypeEmpty:
	case pcommon.ValueTypeStr:
		out.Value = mustJSON(v.Str())
	case pcommon.ValueTypeInt:
		out.Value = json.RawMessage(strconv.FormatInt(v.Int(), 10))
	case pcommon.ValueTypeDouble:
		d := v.Double()
		if math.IsNaN(d) || math.IsInf(d, 0) {
			// JSON has no number for these; the decoder reads the string back.
			out.Value = mustJSON(strconv.FormatFloat(d, 'g', -1, 64))
		} else {
			out.Value = json.RawMessage(strconv.FormatFloat(d, 'g', -1, 64))
		}
	case pcommon.ValueTypeBool:
		out.Value = json.RawMessage(strconv.FormatBool(v.Bool()))
	case pcommon.ValueTypeBytes:
		out.Value = mustJSON(base64.StdEncoding.EncodeToString(v.Bytes().AsRaw()))
	case pcommon.ValueTypeSlice:
		items := make([]value, 0, v.Slice().Len())
		for _, it := range v.Slice().All() {
			items = append(items, anyValue(it))
		}
		out.Value = mustJSON(items)
	case pcommon.ValueTypeMap:
		out.Value = mustJSON(keyValues(v.Map()))
	}
	return out
}

// mustJSON marshals values that always marshal (strings and the types above).
func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("marshal %T: %v", v, err))
	}
	return slices.Clip(b)
}
