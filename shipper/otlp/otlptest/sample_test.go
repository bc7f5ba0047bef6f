package otlptest

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"
)

const waitFor = 30 * time.Second

func str(k, v string) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
}

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// richRequest holds the one record of testdata/one-record.json, built with
// the protobuf types: the two must arrive as the same record.
func richRequest() *collogspb.ExportLogsServiceRequest {
	strV := func(s string) *commonpb.AnyValue {
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: s}}
	}
	intV := func(i int64) *commonpb.AnyValue {
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: i}}
	}
	return &collogspb.ExportLogsServiceRequest{ResourceLogs: []*logspb.ResourceLogs{{
		Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{str("host.name", "edge-1"), str("k8s.pod.name", "web-0")}},
		ScopeLogs: []*logspb.ScopeLogs{{
			Scope: &commonpb.InstrumentationScope{Name: "capstan", Version: "dev"},
			LogRecords: []*logspb.LogRecord{{
				TimeUnixNano:         1700000000123456789,
				ObservedTimeUnixNano: 1700000000987654321,
				SeverityNumber:       logspb.SeverityNumber_SEVERITY_NUMBER_INFO,
				SeverityText:         "INFO",
				Body:                 strV("hello capstan"),
				Attributes: []*commonpb.KeyValue{
					str("log.file.path", "/var/log/app.log"),
					{Key: "n", Value: intV(42)},
					{Key: "ratio", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_DoubleValue{DoubleValue: 0.25}}},
					{Key: "ok", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_BoolValue{BoolValue: true}}},
					{Key: "raw", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_BytesValue{BytesValue: []byte{0, 1, 2, 255}}}},
					{Key: "list", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: &commonpb.ArrayValue{
						Values: []*commonpb.AnyValue{strV("a"), intV(1)},
					}}}},
					{Key: "kv", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_KvlistValue{KvlistValue: &commonpb.KeyValueList{
						Values: []*commonpb.KeyValue{str("inner", "x")},
					}}}},
					{Key: "nothing", Value: &commonpb.AnyValue{}},
				},
				TraceId: mustHex("0102030405060708090a0b0c0d0e0f10"),
				SpanId:  mustHex("a1a2a3a4a5a6a7a8"),
				Flags:   1,
			}},
		}},
	}}}
}

// richRecord is what the receiver must write for richRequest, as a test
// states it independently of the decoders.
var richRecord = Record{
	Resource:             Resource{Attributes: Attrs{{"host.name", StrValue("edge-1")}, {"k8s.pod.name", StrValue("web-0")}}},
	Scope:                Scope{Name: "capstan", Version: "dev"},
	TimeUnixNano:         1700000000123456789,
	ObservedTimeUnixNano: 1700000000987654321,
	SeverityNumber:       9,
	SeverityText:         "INFO",
	Body:                 StrValue("hello capstan"),
	Attributes: Attrs{
		{"log.file.path", StrValue("/var/log/app.log")},
		{"n", IntValue(42)},
		{"ratio", DoubleValue(0.25)},
		{"ok", BoolValue(true)},
		{"raw", BytesValue([]byte{0, 1, 2, 255})},
		{"list", SliceValue(StrValue("a"), IntValue(1))},
		{"kv", MapValue(KeyValue{"inner", StrValue("x")})},
		{"nothing", Value{Type: TypeEmpty}},
	},
	TraceID: "0102030405060708090a0b0c0d0e0f10",
	SpanID:  "a1a2a3a4a5a6a7a8",
	Flags:   1,
}

// lines returns a request of n records with bodies "line 1".."line n" and an
// attribute "i", in two resources so that trimming crosses their boundary.
func lines(from, n int) *collogspb.ExportLogsServiceRequest {
	req := &collogspb.ExportLogsServiceRequest{}
	for r := range 2 {
		rl := &logspb.ResourceLogs{
			Resource:  &resourcepb.Resource{Attributes: []*commonpb.KeyValue{str("host.name", fmt.Sprintf("host-%d", r))}},
			ScopeLogs: []*logspb.ScopeLogs{{Scope: &commonpb.InstrumentationScope{Name: "capstan"}}},
		}
		req.ResourceLogs = append(req.ResourceLogs, rl)
	}
	for i := from; i < from+n; i++ {
		sl := req.ResourceLogs[0].ScopeLogs[0]
		if i-from >= n/2 {
			sl = req.ResourceLogs[1].ScopeLogs[0]
		}
		sl.LogRecords = append(sl.LogRecords, &logspb.LogRecord{
			TimeUnixNano: uint64(1700000000000000000 + i),
			Body:         &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: fmt.Sprintf("line %d", i)}},
			Attributes:   []*commonpb.KeyValue{{Key: "i", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: int64(i)}}}},
			TraceId:      mustHex(fmt.Sprintf("%032x", i)),
			SpanId:       mustHex(fmt.Sprintf("%016x", i)),
		})
	}
	return req
}

// linesJSON is lines(from, n) in OTLP/JSON, written out by hand.
func linesJSON(from, n int) []byte {
	var b strings.Builder
	b.WriteString(`{"resourceLogs":[`)
	for r := range 2 {
		if r > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"resource":{"attributes":[{"key":"host.name","value":{"stringValue":"host-%d"}}]},"scopeLogs":[{"scope":{"name":"capstan"},"logRecords":[`, r)
		first := true
		for i := from; i < from+n; i++ {
			if (i-from >= n/2) != (r == 1) {
				continue
			}
			if !first {
				b.WriteString(",")
			}
			first = false
			fmt.Fprintf(&b, `{"timeUnixNano":"%d","body":{"stringValue":"line %d"},"attributes":[{"key":"i","value":{"intValue":"%d"}}],"traceId":"%032x","spanId":"%016x"}`,
				1700000000000000000+i, i, i, i, i)
		}
		b.WriteString(`]}]}`)
	}
	b.WriteString(`]}`)
	return []byte(b.String())
}

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func compress(t *testing.T, encoding string, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	switch encoding {
	case "":
		return b
	case "gzip":
		zw := gzip.NewWriter(&buf)
		zw.Write(b)
		zw.Close()
	case "zstd":
		zw, err := zstd.NewWriter(&buf)
		if err != nil {
			t.Fatal(err)
		}
		zw.Write(b)
		zw.Close()
	default:
		t.Fatalf("no compressor %q", encoding)
	}
	return buf.Bytes()
}

type httpResult struct {
	status     int
	retryAfter string
	body       []byte
	err        error
}

// post sends one OTLP/HTTP request, on a connection of its own.
func post(t *testing.T, url, contentType, contentEncoding string, body []byte, timeout time.Duration) httpResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(compress(t, contentEncoding, body)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("X-Api-Key", "secret-1")
	if contentEncoding != "" {
		req.Header.Set("Content-Encoding", contentEncoding)
	}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		return httpResult{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return httpResult{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After"), body: b, err: err}
}

func protoBody(t *testing.T, req *collogspb.ExportLogsServiceRequest) []byte {
	t.Helper()
	b, err := proto.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func grpcClient(t *testing.T, addr string) collogspb.LogsServiceClient {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return collogspb.NewLogsServiceClient(conn)
}

// sameRecords fails the test unless got and want hold the same records in
// the same order (request numbers aside).
func sameRecords(t *testing.T, what string, got, want []Record) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d records, want %d:\n got %v\nwant %v", what, len(got), len(want), got, want)
	}
	for i := range got {
		if g, w := got[i].String(), want[i].String(); g != w {
			t.Errorf("%s: record %d\n got %s\nwant %s", what, i, g, w)
		}
	}
}

func nan() float64 {
	zero := 0.0
	return zero / zero
}
