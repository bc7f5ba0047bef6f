package lokifake

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/klauspost/compress/snappy"
	"google.golang.org/protobuf/encoding/protowire"
)

// encodePush encodes streams as a PushRequest, the way Promtail and Alloy
// do (before snappy).
func encodePush(streams ...pushStream) []byte {
	var b []byte
	for _, s := range streams {
		var sb []byte
		sb = protowire.AppendTag(sb, 1, protowire.BytesType)
		sb = protowire.AppendString(sb, s.labels)
		for _, e := range s.entries {
			var eb, ts []byte
			ts = protowire.AppendTag(ts, 1, protowire.VarintType)
			ts = protowire.AppendVarint(ts, uint64(e.Timestamp.Unix()))
			ts = protowire.AppendTag(ts, 2, protowire.VarintType)
			ts = protowire.AppendVarint(ts, uint64(e.Timestamp.Nanosecond()))
			eb = protowire.AppendTag(eb, 1, protowire.BytesType)
			eb = protowire.AppendBytes(eb, ts)
			eb = protowire.AppendTag(eb, 2, protowire.BytesType)
			eb = protowire.AppendString(eb, e.Line)
			for _, p := range e.StructuredMetadata {
				var pb []byte
				pb = protowire.AppendTag(pb, 1, protowire.BytesType)
				pb = protowire.AppendString(pb, p.Name)
				pb = protowire.AppendTag(pb, 2, protowire.BytesType)
				pb = protowire.AppendString(pb, p.Value)
				eb = protowire.AppendTag(eb, 3, protowire.BytesType)
				eb = protowire.AppendBytes(eb, pb)
			}
			sb = protowire.AppendTag(sb, 2, protowire.BytesType)
			sb = protowire.AppendBytes(sb, eb)
		}
		b = protowire.AppendTag(b, 1, protowire.BytesType)
		b = protowire.AppendBytes(b, sb)
	}
	return b
}

func strm(labels string, entries ...Entry) pushStream {
	return pushStream{labels: labels, entries: entries}
}

func entry(ts time.Time, line string, md ...LabelPair) Entry {
	return Entry{Timestamp: ts, Line: line, StructuredMetadata: md}
}

type answer struct {
	status int
	header http.Header
	body   string
}

// post sends a body to the push endpoint; headers are name, value pairs
// (an empty value removes the header).
func post(t *testing.T, s *Server, body []byte, headers ...string) answer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.PushURL(), bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-protobuf")
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
		} else {
			req.Header.Set(headers[i], headers[i+1])
		}
	}
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatalf("push: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read answer: %v", err)
	}
	return answer{resp.StatusCode, resp.Header, string(b)}
}

// push sends streams as snappy-compressed protobuf.
func push(t *testing.T, s *Server, streams ...pushStream) answer {
	t.Helper()
	return post(t, s, snappy.Encode(nil, encodePush(streams...)))
}

func lines(n int, at time.Time, step time.Duration, prefix string) []Entry {
	out := make([]Entry, n)
	for i := range out {
		out[i] = entry(at.Add(time.Duration(i)*step), prefix+string(rune('a'+i%26)))
	}
	return out
}
