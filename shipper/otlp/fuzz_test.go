package otlp

import (
	"bytes"
	"encoding/json"
	"strconv"
	"testing"

	"github.com/capstan-agent/capstan/shipper/otlp/otlptest"
	"github.com/capstan-agent/capstan/spool"
	"github.com/capstan-agent/capstan/spool/batch"
)

// FuzzJSONValue: a JSON value of a batch (an attribute and a body) becomes
// the same AnyValue in protobuf and in OTLP/JSON, and that is the value
// encoding/json reads from the text.
func FuzzJSONValue(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `[1,2.5,"x",null,true,false,{}]`, `{"s":"\u00e9\ud83d\ude00\n\"","n":-0,"big":1e400,"i":9223372036854775808}`,
		`{"nested":{"deep":[[[]]]}}`, `["\ud800 lone"]`, `{"":""}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		compact, ok := batch.CompactJSON(nil, []byte(text))
		if !ok || !batch.ValidValue(batch.KindJSON, compact) {
			return
		}
		tb := testBatch{part: spool.Key{Stream: "s"}, producer: 1, sequence: 1, observed: 1, recs: []testRecord{{
			ts: 1, kind: batch.KindJSON, body: string(compact), attrs: []batch.Attr{batch.JSONAttr("v", string(compact))}}}}
		var got []otlptest.Value
		for _, js := range []bool{false, true} {
			m := testMapping(js)
			payload, _ := encodeRequest(t, m, tb)
			recs := decoded(t, m, payload)
			if len(recs) != 1 {
				t.Fatalf("json=%v: %d records", js, len(recs))
			}
			v, _ := recs[0].Attributes.Get("v")
			if !v.Equal(recs[0].Body) {
				t.Fatalf("json=%v: attribute %s, body %s", js, v, recs[0].Body)
			}
			got = append(got, v)
		}
		if !got[0].Equal(got[1]) {
			t.Fatalf("protobuf %s, OTLP/JSON %s", got[0], got[1])
		}
		dec := json.NewDecoder(bytes.NewReader(compact))
		dec.UseNumber()
		want, err := refValue(dec)
		if err != nil {
			t.Fatalf("encoding/json refuses %s: %v", compact, err)
		}
		if !want.Equal(got[0]) {
			t.Fatalf("%s became %s, want %s", compact, got[0], want)
		}
	})
}

// refValue reads the next JSON value of dec as the AnyValue it means,
// members of objects in their order.
func refValue(dec *json.Decoder) (otlptest.Value, error) {
	tok, err := dec.Token()
	if err != nil {
		return otlptest.Value{}, err
	}
	switch x := tok.(type) {
	case nil:
		return otlptest.Value{Type: otlptest.TypeEmpty}, nil
	case bool:
		return otlptest.BoolValue(x), nil
	case string:
		return otlptest.StrValue(x), nil
	case json.Number:
		if i, err := strconv.ParseInt(string(x), 10, 64); err == nil && !bytes.ContainsAny([]byte(x), ".eE") {
			return otlptest.IntValue(i), nil
		}
		f, _ := strconv.ParseFloat(string(x), 64) // out of range: ±Inf, as the encoder sends it
		return otlptest.DoubleValue(f), nil
	case json.Delim:
		if x == '[' {
			out := otlptest.Value{Type: otlptest.TypeSlice}
			for dec.More() {
				v, err := refValue(dec)
				if err != nil {
					return out, err
				}
				out.Slice = append(out.Slice, v)
			}
			_, err := dec.Token()
			return out, err
		}
		out := otlptest.Value{Type: otlptest.TypeMap}
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return out, err
			}
			v, err := refValue(dec)
			if err != nil {
				return out, err
			}
			out.Map = append(out.Map, otlptest.KeyValue{Key: k.(string), Value: v})
		}
		_, err := dec.Token()
		return out, err
	}
	return otlptest.Value{}, nil
}
