package lokifake

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/snappy"
)

// FuzzParseLabels: no panic; what parses is sorted, has no empty value,
// and its canonical form parses to itself.
func FuzzParseLabels(f *testing.F) {
	for _, s := range []string{`{app="x", ns="y"}`, `{a='b',}`, "{a=`c`}", `up{job="x"}`, `{a="\u00e9\n"}`, `{a="b" c="d"}`, `{`, `{a-b="c"}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ls, err := parseLabels(s)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "1:") {
				t.Fatalf("error %q lacks a position", err)
			}
			return
		}
		if !slices.IsSortedFunc(ls, func(a, b LabelPair) int { return strings.Compare(a.Name, b.Name) }) {
			t.Fatalf("%q: labels not sorted: %v", s, ls)
		}
		for _, l := range ls {
			if l.Value == "" {
				t.Fatalf("%q: empty value kept", s)
			}
		}
		canon := formatLabels(ls)
		again, err := Canonical(canon)
		if err != nil || again != canon {
			t.Fatalf("%q: canonical %q reparses as %q, %v", s, canon, again, err)
		}
	})
}

// FuzzDecodePush: no panic on any bytes; what decodes re-encodes to a
// message that decodes the same; the fake ingests it without panicking.
func FuzzDecodePush(f *testing.F) {
	at := time.Unix(1714564800, 123)
	f.Add(encodePush(strm(`{app="x"}`, entry(at, "line", LabelPair{"trace_id", "t"}))))
	f.Add(encodePush(strm(`{app="x"}`), strm(`{}`, entry(at, ""))))
	f.Add([]byte{0x0a, 0x02, 0x18, 0x05, 0x12, 0x04, 0x6c, 0x6f, 0x6b, 0x69})
	f.Fuzz(func(t *testing.T, b []byte) {
		var req pushRequest
		if err := decodePush(b, &req, false); err != nil {
			return
		}
		var again pushRequest
		if err := decodePush(encodePush(req.streams...), &again, false); err != nil {
			t.Fatalf("re-encoded message does not decode: %v", err)
		}
		if fmt.Sprint(req.streams) != fmt.Sprint(again.streams) {
			t.Fatalf("round trip changed the request:\n%v\n%v", req.streams, again.streams)
		}
		fk, err := New(Options{Now: func() time.Time { return at }})
		if err != nil {
			t.Fatal(err)
		}
		if status, _ := fk.ingest("fake", &req, false); status != 204 && status != 400 && status != 429 {
			t.Fatalf("status %d", status)
		}
	})
}

// FuzzSnappy: the strict decoder decodes what snappy encodes, and never
// accepts a block that the reference decoder would decode differently.
func FuzzSnappy(f *testing.F) {
	f.Add([]byte("hello hello hello hello"))
	f.Add(snappy.Encode(nil, bytes.Repeat([]byte("abc"), 100)))
	f.Add([]byte{0x05, 0x10, 'h', 'e', 'l', 'l', 'o'})
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := snappyDecode(nil, snappy.Encode(nil, b))
		if err != nil || !bytes.Equal(got, b) {
			t.Fatalf("round trip of %q: %q, %v", b, got, err)
		}
		mine, err := snappyDecode(nil, b)
		if err != nil {
			return
		}
		ref, rerr := snappy.Decode(nil, b)
		if rerr != nil || !bytes.Equal(mine, ref) {
			t.Fatalf("%x: strict decoder gave %q, reference %q, %v", b, mine, ref, rerr)
		}
	})
}

// FuzzDecodeJSONPush: no panic; what decodes can be ingested.
func FuzzDecodeJSONPush(f *testing.F) {
	f.Add([]byte(`{"streams":[{"stream":{"app":"x"},"values":[["1714564800000000000","l"],["1714564800000000001","m",{"k":"v"}]]}]}`))
	f.Add([]byte(`{"streams":[{"stream":{"a-b":"x"},"values":[["x","l"]]}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var req pushRequest
		if err := decodeJSONPush(b, &req); err != nil {
			return
		}
		fk, _ := New(Options{})
		fk.ingest("fake", &req, false)
	})
}
