package lokifake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The JSON push body (Loki's HTTP API, v1):
//
//	{"streams":[{"stream":{"app":"x"},
//	             "values":[["<unix ns as a string>","<line>"],
//	                       ["<unix ns>","<line>",{"trace_id":"…"}]]}]}
//
// The third element of a value, when present, is the entry's structured
// metadata: an object of strings.

type jsonPush struct {
	Streams []struct {
		Stream map[string]string `json:"stream"`
		Values []json.RawMessage `json:"values"`
	} `json:"streams"`
}

// decodeJSONPush decodes a JSON push body into req; the stream's labels are
// rendered as Loki renders labels.FromMap(stream).String(), then parsed
// like any other selector (so a name that is not an identifier is refused
// the same way).
func decodeJSONPush(b []byte, req *pushRequest) error {
	var in jsonPush
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&in); err != nil {
		return fmt.Errorf("decode JSON push request: %w", err)
	}
	if dec.More() {
		return fmt.Errorf("decode JSON push request: data after the top-level object")
	}
	req.streams = req.streams[:0]
	for i, s := range in.Streams {
		ps := pushStream{labels: mapLabels(s.Stream)}
		for j, raw := range s.Values {
			e, err := decodeJSONValue(raw)
			if err != nil {
				return fmt.Errorf("decode JSON push request: streams[%d].values[%d]: %w", i, j, err)
			}
			ps.entries = append(ps.entries, e)
		}
		req.streams = append(req.streams, ps)
	}
	return nil
}

func mapLabels(m map[string]string) string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	slices.Sort(names)
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range names {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(strconv.Quote(m[k]))
	}
	b.WriteByte('}')
	return b.String()
}

func decodeJSONValue(raw json.RawMessage) (Entry, error) {
	var parts []json.RawMessage
	if err := json.Unmarshal(raw, &parts); err != nil {
		return Entry{}, fmt.Errorf("a value must be an array: %w", err)
	}
	if len(parts) != 2 && len(parts) != 3 {
		return Entry{}, fmt.Errorf("a value must be [timestamp, line] or [timestamp, line, structured metadata], got %d elements", len(parts))
	}
	var ts, line string
	if err := json.Unmarshal(parts[0], &ts); err != nil {
		return Entry{}, fmt.Errorf("the timestamp must be a string of Unix nanoseconds, got %s", parts[0])
	}
	ns, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return Entry{}, fmt.Errorf("timestamp %q is not an integer of Unix nanoseconds", ts)
	}
	if err := json.Unmarshal(parts[1], &line); err != nil {
		return Entry{}, fmt.Errorf("the line must be a string, got %s", parts[1])
	}
	e := Entry{Timestamp: time.Unix(0, ns).UTC(), Line: line}
	if len(parts) == 3 {
		var md map[string]string
		if err := json.Unmarshal(parts[2], &md); err != nil {
			return Entry{}, fmt.Errorf("structured metadata must be an object of strings: %w", err)
		}
		names := make([]string, 0, len(md))
		for k := range md {
			names = append(names, k)
		}
		slices.Sort(names)
		for _, k := range names {
			e.StructuredMetadata = append(e.StructuredMetadata, LabelPair{k, md[k]})
		}
	}
	return e, nil
}
