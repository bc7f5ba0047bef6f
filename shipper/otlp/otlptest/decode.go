package otlptest

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"

	"github.com/klauspost/compress/zstd"
	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// The request encodings of OTLP/HTTP.
const (
	EncodingProtobuf = "protobuf" // application/x-protobuf (and every gRPC request)
	EncodingJSON     = "json"     // application/json
)

// maxDecoded bounds a decompressed request body the fronts decode.
const maxDecoded = 256 << 20

// encodingOf maps a Content-Type to an OTLP encoding, as the receiver does.
func encodingOf(contentType string) (string, error) {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return "", fmt.Errorf("content type %q: %w", contentType, err)
	}
	switch mt {
	case "application/x-protobuf":
		return EncodingProtobuf, nil
	case "application/json":
		return EncodingJSON, nil
	}
	return "", fmt.Errorf("content type %q is not OTLP", contentType)
}

// decompress undoes a Content-Encoding the fronts understand: none, gzip, zstd.
func decompress(contentEncoding string, body []byte) ([]byte, error) {
	var r io.Reader
	switch contentEncoding {
	case "", "identity":
		return body, nil
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			return nil, fmt.Errorf("gzip body: %w", err)
		}
		r = zr
	case "zstd":
		zr, err := zstd.NewReader(bytes.NewReader(body), zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, fmt.Errorf("zstd body: %w", err)
		}
		defer zr.Close()
		r = zr
	default:
		return nil, fmt.Errorf("content encoding %q is not decoded by the front", contentEncoding)
	}
	out, err := io.ReadAll(io.LimitReader(r, maxDecoded+1))
	if err != nil {
		return nil, fmt.Errorf("%s body: %w", contentEncoding, err)
	}
	if len(out) > maxDecoded {
		return nil, fmt.Errorf("%s body decompresses to more than %d bytes", contentEncoding, maxDecoded)
	}
	return out, nil
}

// DecodeRequest decodes an uncompressed OTLP/HTTP logs request body.
func DecodeRequest(encoding string, body []byte) (*collogspb.ExportLogsServiceRequest, error) {
	req := &collogspb.ExportLogsServiceRequest{}
	switch encoding {
	case EncodingProtobuf:
		if err := proto.Unmarshal(body, req); err != nil {
			return nil, fmt.Errorf("protobuf request: %w", err)
		}
	case EncodingJSON:
		doc, err := parseJSON(body)
		if err != nil {
			return nil, err
		}
		// OTLP/JSON writes trace and span ids in hex where proto3 JSON has
		// base64; everything else protojson reads as OTLP means it.
		if err := eachRecord(doc, hexIDsToBase64); err != nil {
			return nil, err
		}
		fixed, err := json.Marshal(doc)
		if err != nil {
			return nil, fmt.Errorf("json request: %w", err)
		}
		if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(fixed, req); err != nil {
			return nil, fmt.Errorf("json request: %w", err)
		}
	default:
		return nil, fmt.Errorf("unknown encoding %q", encoding)
	}
	return req, nil
}

func parseJSON(body []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("json request: %w", err)
	}
	if dec.More() {
		return nil, errors.New("json request: data after the object")
	}
	return doc, nil
}

// The member names OTLP/JSON readers accept: lowerCamelCase and the proto names.
var (
	resourceLogsKeys = []string{"resourceLogs", "resource_logs"}
	scopeLogsKeys    = []string{"scopeLogs", "scope_logs"}
	logRecordsKeys   = []string{"logRecords", "log_records"}
	idKeys           = [][2]string{{"traceId", "trace_id"}, {"spanId", "span_id"}}
)

// member returns the array under the first of keys present in obj, and the key.
func member(obj map[string]any, keys []string, where string) ([]any, string, error) {
	for _, k := range keys {
		v, ok := obj[k]
		if !ok || v == nil {
			continue
		}
		arr, ok := v.([]any)
		if !ok {
			return nil, "", fmt.Errorf("json request: %s.%s is not an array", where, k)
		}
		return arr, k, nil
	}
	return nil, "", nil
}

// eachRecord calls fn with every log record object of a JSON request, in order.
func eachRecord(doc map[string]any, fn func(rec map[string]any) error) error {
	rls, _, err := member(doc, resourceLogsKeys, "request")
	if err != nil {
		return err
	}
	for i, rl := range rls {
		rlo, ok := rl.(map[string]any)
		if !ok {
			return fmt.Errorf("json request: resourceLogs[%d] is not an object", i)
		}
		sls, _, err := member(rlo, scopeLogsKeys, fmt.Sprintf("resourceLogs[%d]", i))
		if err != nil {
			return err
		}
		for j, sl := range sls {
			slo, ok := sl.(map[string]any)
			if !ok {
				return fmt.Errorf("json request: resourceLogs[%d].scopeLogs[%d] is not an object", i, j)
			}
			recs, _, err := member(slo, logRecordsKeys, fmt.Sprintf("resourceLogs[%d].scopeLogs[%d]", i, j))
			if err != nil {
				return err
			}
			for k, rec := range recs {
				ro, ok := rec.(map[string]any)
				if !ok {
					return fmt.Errorf("json request: resourceLogs[%d].scopeLogs[%d].logRecords[%d] is not an object", i, j, k)
				}
				if err := fn(ro); err != nil {
					return fmt.Errorf("json request: resourceLogs[%d].scopeLogs[%d].logRecords[%d]: %w", i, j, k, err)
				}
			}
		}
	}
	return nil
}

func hexIDsToBase64(rec map[string]any) error {
	for _, keys := range idKeys {
		for _, k := range keys {
			v, ok := rec[k]
			if !ok {
				continue
			}
			s, ok := v.(string)
			if !ok {
				return fmt.Errorf("%s is not a string", k)
			}
			b, err := hex.DecodeString(s)
			if err != nil {
				return fmt.Errorf("%s %q is not hex", k, s)
			}
			rec[k] = base64.StdEncoding.EncodeToString(b)
		}
	}
	return nil
}

// trimJSON drops the last n log records of a JSON request (and the scopes and
// resources left empty) and returns the rest, encoded again. Everything it
// keeps is as the client wrote it: ids stay hex, numbers keep their digits.
func trimJSON(body []byte, n int) ([]byte, error) {
	doc, err := parseJSON(body)
	if err != nil {
		return nil, err
	}
	total := 0
	if err := eachRecord(doc, func(map[string]any) error { total++; return nil }); err != nil {
		return nil, err
	}
	keep := total - n
	rls, rk, _ := member(doc, resourceLogsKeys, "request")
	var outRL []any
	for _, rl := range rls {
		rlo := rl.(map[string]any)
		sls, sk, _ := member(rlo, scopeLogsKeys, "")
		var outSL []any
		for _, sl := range sls {
			slo := sl.(map[string]any)
			recs, lk, _ := member(slo, logRecordsKeys, "")
			take := min(len(recs), max(keep, 0))
			keep -= take
			if take > 0 {
				slo[lk] = recs[:take]
				outSL = append(outSL, slo)
			}
		}
		if len(outSL) > 0 {
			rlo[sk] = outSL
			outRL = append(outRL, rlo)
		}
	}
	if rk == "" {
		rk = resourceLogsKeys[0]
	}
	doc[rk] = outRL
	out, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("json request: %w", err)
	}
	return out, nil
}

// trimProto returns a copy of req without its last n log records (and the
// scopes and resources left empty).
func trimProto(req *collogspb.ExportLogsServiceRequest, n int) *collogspb.ExportLogsServiceRequest {
	keep := countRecords(req) - n
	out := &collogspb.ExportLogsServiceRequest{}
	for _, rl := range req.GetResourceLogs() {
		c := proto.Clone(rl).(*logspb.ResourceLogs)
		c.ScopeLogs = c.ScopeLogs[:0]
		for _, sl := range rl.GetScopeLogs() {
			take := min(len(sl.GetLogRecords()), max(keep, 0))
			keep -= take
			if take > 0 {
				s := proto.Clone(sl).(*logspb.ScopeLogs)
				s.LogRecords = s.LogRecords[:take]
				c.ScopeLogs = append(c.ScopeLogs, s)
			}
		}
		if len(c.ScopeLogs) > 0 {
			out.ResourceLogs = append(out.ResourceLogs, c)
		}
	}
	return out
}

func countRecords(req *collogspb.ExportLogsServiceRequest) int {
	n := 0
	for _, rl := range req.GetResourceLogs() {
		for _, sl := range rl.GetScopeLogs() {
			n += len(sl.GetLogRecords())
		}
	}
	return n
}

// RecordsOf lists the records of a request in order, each marked with the
// given request number.
func RecordsOf(req *collogspb.ExportLogsServiceRequest, request int) []Record {
	var recs []Record
	for _, rl := range req.GetResourceLogs() {
		res := Resource{
			Attributes:             attrsOf(rl.GetResource().GetAttributes()),
			DroppedAttributesCount: rl.GetResource().GetDroppedAttributesCount(),
			SchemaURL:              rl.GetSchemaUrl(),
		}
		for _, sl := range rl.GetScopeLogs() {
			sc := Scope{
				Name:       sl.GetScope().GetName(),
				Version:    sl.GetScope().GetVersion(),
				Attributes: attrsOf(sl.GetScope().GetAttributes()),
				SchemaURL:  sl.GetSchemaUrl(),
			}
			for _, lr := range sl.GetLogRecords() {
				recs = append(recs, Record{
					Request:                request,
					Resource:               res,
					Scope:                  sc,
					TimeUnixNano:           lr.GetTimeUnixNano(),
					ObservedTimeUnixNano:   lr.GetObservedTimeUnixNano(),
					SeverityNumber:         int32(lr.GetSeverityNumber()),
					SeverityText:           lr.GetSeverityText(),
					EventName:              lr.GetEventName(),
					Body:                   valueOf(lr.GetBody()),
					Attributes:             attrsOf(lr.GetAttributes()),
					DroppedAttributesCount: lr.GetDroppedAttributesCount(),
					TraceID:                hex.EncodeToString(lr.GetTraceId()),
					SpanID:                 hex.EncodeToString(lr.GetSpanId()),
					Flags:                  lr.GetFlags(),
				})
			}
		}
	}
	return recs
}

func attrsOf(kvs []*commonpb.KeyValue) Attrs {
	out := make(Attrs, 0, len(kvs))
	for _, kv := range kvs {
		out = append(out, KeyValue{Key: kv.GetKey(), Value: valueOf(kv.GetValue())})
	}
	return out
}

func valueOf(v *commonpb.AnyValue) Value {
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		return StrValue(x.StringValue)
	case *commonpb.AnyValue_IntValue:
		return IntValue(x.IntValue)
	case *commonpb.AnyValue_DoubleValue:
		return DoubleValue(x.DoubleValue)
	case *commonpb.AnyValue_BoolValue:
		return BoolValue(x.BoolValue)
	case *commonpb.AnyValue_BytesValue:
		return BytesValue(x.BytesValue)
	case *commonpb.AnyValue_ArrayValue:
		items := make([]Value, 0, len(x.ArrayValue.GetValues()))
		for _, it := range x.ArrayValue.GetValues() {
			items = append(items, valueOf(it))
		}
		return Value{Type: TypeSlice, Slice: items}
	case *commonpb.AnyValue_KvlistValue:
		return Value{Type: TypeMap, Map: attrsOf(x.KvlistValue.GetValues())}
	case nil:
		return Value{Type: TypeEmpty}
	}
	// A string-table index belongs to profiles; logs never carry one.
	return Value{Type: fmt.Sprintf("%T", v.GetValue())}
}
