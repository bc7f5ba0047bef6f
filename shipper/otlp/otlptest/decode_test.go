package otlptest

import (
	"os"
	"strings"
	"testing"

	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	"google.golang.org/protobuf/proto"
)

func TestDecodeRequestJSON(t *testing.T) {
	cases := []struct {
		name    string
		body    string
		records int
		err     string // substring; "" for success
	}{
		{name: "camel case", body: `{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"stringValue":"a"}},{}]}]}]}`, records: 2},
		{name: "proto names", body: `{"resource_logs":[{"scope_logs":[{"log_records":[{"trace_id":"0102030405060708090a0b0c0d0e0f10","span_id":"0102030405060708"}]}]}]}`, records: 1},
		{name: "unknown fields", body: `{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"future":1}]}]}],"more":{}}`, records: 1},
		{name: "empty", body: `{}`},
		{name: "null arrays", body: `{"resourceLogs":null}`},
		{name: "trace id not hex", body: `{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"traceId":"zz"}]}]}]}`, err: "resourceLogs[0].scopeLogs[0].logRecords[0]: traceId \"zz\" is not hex"},
		{name: "span id not a string", body: `{"resourceLogs":[{"scopeLogs":[{"logRecords":[{},{"spanId":5}]}]}]}`, err: "logRecords[1]: spanId is not a string"},
		{name: "resourceLogs not an array", body: `{"resourceLogs":{}}`, err: "request.resourceLogs is not an array"},
		{name: "record not an object", body: `{"resourceLogs":[{"scopeLogs":[{"logRecords":[1]}]}]}`, err: "logRecords[0] is not an object"},
		{name: "data after the object", body: `{} {}`, err: "data after the object"},
		{name: "not json", body: `{"resourceLogs":`, err: "json request"},
		{name: "bad time", body: `{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"timeUnixNano":"soon"}]}]}]}`, err: "json request"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, err := DecodeRequest(EncodingJSON, []byte(c.body))
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v, want one with %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if n := countRecords(req); n != c.records {
				t.Errorf("%d records, want %d", n, c.records)
			}
		})
	}
}

func TestDecodeRequestIDs(t *testing.T) {
	req, err := DecodeRequest(EncodingJSON, linesJSON(7, 2))
	if err != nil {
		t.Fatal(err)
	}
	sameRecords(t, "json", RecordsOf(req, 0), RecordsOf(lines(7, 2), 0))
	if _, err := DecodeRequest("xml", nil); err == nil {
		t.Error("an unknown encoding decoded")
	}
	if _, err := DecodeRequest(EncodingProtobuf, []byte{0xff}); err == nil {
		t.Error("a broken protobuf decoded")
	}
}

// Trimming drops exactly the last n records in document order, across scope
// and resource boundaries, in both encodings.
func TestTrim(t *testing.T) {
	all := RecordsOf(lines(1, 5), 0)
	for n := range 7 {
		keep := max(len(all)-n, 0)
		got := trimProto(lines(1, 5), n)
		sameRecords(t, "protobuf", RecordsOf(got, 0), all[:keep])
		if keep == 0 && len(got.ResourceLogs) != 0 {
			t.Errorf("trim %d: empty resources kept: %v", n, got)
		}
		js, err := trimJSON(linesJSON(1, 5), n)
		if err != nil {
			t.Fatal(err)
		}
		req, err := DecodeRequest(EncodingJSON, js)
		if err != nil {
			t.Fatalf("trim %d: %v\n%s", n, err, js)
		}
		sameRecords(t, "json", RecordsOf(req, 0), all[:keep])
	}
}

func TestParseLines(t *testing.T) {
	golden, err := os.ReadFile("testdata/rich-record.golden.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	recs, reqs, err := ParseLines(golden)
	if err != nil {
		t.Fatal(err)
	}
	sameRecords(t, "golden", recs, []Record{richRecord})
	if len(reqs) != 0 {
		t.Errorf("requests %v in a file of records", reqs)
	}
	cases := []struct {
		name, line, err string
	}{
		{name: "unknown kind", line: `{"kind":"span"}`, err: `line 1: unknown kind "span"`},
		{name: "unknown field", line: `{"kind":"request","request":1,"extra":2}`, err: `unknown field "extra"`},
		{name: "unknown value type", line: `{"kind":"record","body":{"type":"Float","value":1}}`, err: `unknown type "Float"`},
		{name: "int as string", line: `{"kind":"record","body":{"type":"Int","value":"1"}}`, err: `Int value "1"`},
		{name: "empty with a value", line: `{"kind":"record","body":{"type":"Empty","value":1}}`, err: `has a value`},
		{name: "double word", line: `{"kind":"record","body":{"type":"Double","value":"lots"}}`, err: `is not NaN or ±Inf`},
		{name: "bytes not base64", line: `{"kind":"record","body":{"type":"Bytes","value":"!!"}}`, err: `Bytes value`},
		{name: "not json", line: `{`, err: `line 1`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := ParseLines([]byte(c.line + "\n"))
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Fatalf("error %v, want one with %q", err, c.err)
			}
		})
	}
	recs, _, err = ParseLines([]byte(`{"kind":"record","body":{"type":"Double","value":"NaN"}}` + "\n"))
	if err != nil || !recs[0].Body.Equal(DoubleValue(nan())) {
		t.Errorf("NaN body: %v %v", recs, err)
	}
}

func FuzzDecodeRequest(f *testing.F) {
	f.Add(linesJSON(1, 3), true)
	f.Add(mustMarshal(lines(1, 3)), false)
	f.Add([]byte(`{"resource_logs":[{"scope_logs":[{"log_records":[{"trace_id":"00"}]}]}]}`), true)
	f.Fuzz(func(t *testing.T, body []byte, json bool) {
		enc := EncodingProtobuf
		if json {
			enc = EncodingJSON
		}
		req, err := DecodeRequest(enc, body)
		if err != nil {
			return
		}
		total := countRecords(req)
		for _, n := range []int{0, 1, total} {
			want := max(total-n, 0)
			if got := countRecords(trimProto(req, n)); got != want {
				t.Fatalf("trimProto(%d) kept %d of %d", n, got, total)
			}
			if !json {
				continue
			}
			js, err := trimJSON(body, n)
			if err != nil {
				t.Fatalf("trimJSON of a decodable request: %v", err)
			}
			back, err := DecodeRequest(EncodingJSON, js)
			if err != nil {
				t.Fatalf("a trimmed request does not decode: %v\n%s", err, js)
			}
			if got := countRecords(back); got != want {
				t.Fatalf("trimJSON(%d) kept %d of %d", n, got, total)
			}
		}
	})
}

func FuzzParseLines(f *testing.F) {
	golden, err := os.ReadFile("testdata/rich-record.golden.jsonl")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(golden)
	f.Add([]byte(`{"kind":"request","request":1,"records":0,"headers":{}}` + "\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		recs, _, err := ParseLines(data)
		if err != nil {
			return
		}
		for _, r := range recs {
			_ = r.String()
		}
	})
}

func mustMarshal(req *collogspb.ExportLogsServiceRequest) []byte {
	b, err := proto.Marshal(req)
	if err != nil {
		panic(err)
	}
	return b
}
