package delivery

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/capstan-agent/capstan/spool"
	"github.com/capstan-agent/capstan/spool/batch"
)

// ndjsonOf encodes every record of the one batch in b.
func ndjsonOf(t *testing.T, b []byte) string {
	t.Helper()
	bt, _, err := batch.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	var out []byte
	ForEachRecord(b, bt.BaseOffset, spool.Key{Stream: "s"}, func(r *Record) error {
		out = AppendNDJSON(out, r)
		return nil
	})
	return string(out)
}

// Each kind is written as its JSON value: numbers and booleans bare, null,
// nested objects nested; the line keeps the v1 shape.
func TestNDJSONKinds(t *testing.T) {
	const ts = 1_700_000_000_123_456_789
	tests := []struct {
		name string
		attr batch.Attr
		want string // the value in "attrs"
	}{
		{"string", batch.StringAttr("k", "v \"q\" \xff"), `"v \"q\" \ufffd"`},
		{"int", batch.IntAttr("k", -7), `-7`},
		{"float", batch.FloatAttr("k", 0.5), `0.5`},
		{"float NaN is a string", batch.FloatAttr("k", math.NaN()), `"NaN"`},
		{"bool", batch.BoolAttr("k", true), `true`},
		{"null", batch.NullAttr("k"), `null`},
		{"object", batch.JSONAttr("k", `{"a":{"b":[1,"x",null]}}`), `{"a":{"b":[1,"x",null]}}`},
		{"array", batch.JSONAttr("k", `[]`), `[]`},
		{"invalid json kept as a string", batch.JSONAttr("k", `{"a":`), `"{\"a\":"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b batch.Builder
			b.ResetV2(0, ts+1000, []batch.Attr{batch.StringAttr("host", "h1")})
			b.AddWithAttrs(ts, []byte("line"), []batch.Attr{tt.attr})
			got := ndjsonOf(t, b.Bytes())
			want := `{"ts":"2023-11-14T22:13:20.123456789Z","attrs":{"host":"h1","k":` + tt.want + `},"body":"line"}` + "\n"
			if got != want {
				t.Fatalf("got  %s\nwant %s", got, want)
			}
			var v map[string]any
			if err := json.Unmarshal([]byte(got), &v); err != nil {
				t.Fatalf("invalid JSON %s: %v", got, err)
			}
		})
	}
}

func TestNDJSONBody(t *testing.T) {
	var b batch.Builder
	b.ResetV2(0, 5, nil)
	b.AddRecord(0, batch.KindJSON, []byte(`{"msg":"hi","n":2}`), nil)
	b.AddRecord(0, batch.KindInt, []byte(`42`), nil)
	b.AddRecord(0, batch.KindString, []byte(`{"msg":"a string"}`), nil)
	want := `{"ts":"1970-01-01T00:00:00Z","body":{"msg":"hi","n":2}}
{"ts":"1970-01-01T00:00:00Z","body":42}
{"ts":"1970-01-01T00:00:00Z","body":"{\"msg\":\"a string\"}"}
`
	if got := ndjsonOf(t, b.Bytes()); got != want {
		t.Fatalf("got\n%swant\n%s", got, want)
	}
}

// A v1 batch and a v2 batch with the same string attributes give the same
// lines, byte for byte.
func TestNDJSONSameShapeForV1AndV2(t *testing.T) {
	src := []batch.Attr{batch.StringAttr("host", "h1"), batch.StringAttr("path", "/var/log/a.log")}
	own := []batch.Attr{batch.StringAttr("level", "warn")}
	var v1, v2 batch.Builder
	v1.Reset(0, src)
	v2.ResetV2(0, 99, src)
	for i, body := range []string{"a", "tab\tquote\"", "bad\xff", ""} {
		v1.AddWithAttrs(int64(i), []byte(body), own)
		v2.AddWithAttrs(int64(i), []byte(body), own)
	}
	a, b := ndjsonOf(t, bytes.Clone(v1.Bytes())), ndjsonOf(t, v2.Bytes())
	if a != b {
		t.Fatalf("v1:\n%sv2:\n%s", a, b)
	}
}

// typedBatch is a batch of 200-byte lines with what a processor chain
// might attach: five typed attributes per record.
func typedBatch(records int) []byte {
	var b batch.Builder
	b.ResetV2(0, 1, []batch.Attr{batch.StringAttr("host", "h")})
	attrs := []batch.Attr{
		batch.StringAttr("level", "info"), batch.IntAttr("status", 200), batch.FloatAttr("duration", 0.0123),
		batch.BoolAttr("cached", true), batch.JSONAttr("req", `{"method":"GET","path":"/api/v1/items"}`),
	}
	body := []byte(strings.Repeat("x", 200))
	for i := 0; i < records; i++ {
		b.AddWithAttrs(int64(1700000000123456789+i), body, attrs)
	}
	return bytes.Clone(b.Bytes())
}

// stringBatch is typedBatch in version 1: the same attributes as strings.
func stringBatch(records int) []byte {
	var b batch.Builder
	b.Reset(0, []batch.Attr{batch.StringAttr("host", "h")})
	attrs := []batch.Attr{
		batch.StringAttr("level", "info"), batch.StringAttr("status", "200"), batch.StringAttr("duration", "0.0123"),
		batch.StringAttr("cached", "true"), batch.StringAttr("req", `{"method":"GET","path":"/api/v1/items"}`),
	}
	body := []byte(strings.Repeat("x", 200))
	for i := 0; i < records; i++ {
		b.AddWithAttrs(int64(1700000000123456789+i), body, attrs)
	}
	return bytes.Clone(b.Bytes())
}

func TestNDJSONTypedAllocatesNothingPerRecord(t *testing.T) {
	b := typedBatch(1000)
	var out []byte
	encode := func() {
		out = out[:0]
		ForEachRecord(b, 0, spool.Key{Stream: "s"}, func(r *Record) error {
			out = AppendNDJSON(out, r)
			return nil
		})
	}
	encode()
	// ForEachRecord's walk allocates a few times per call; none per record.
	if allocs := testing.AllocsPerRun(20, encode); allocs/1000 > 0.005 {
		t.Errorf("%.1f allocations per batch of 1000 typed records", allocs)
	}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if !json.Valid([]byte(l)) {
			t.Fatalf("invalid JSON %s", l)
		}
	}
}
