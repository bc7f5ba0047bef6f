package elasticsearch

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/capstan-agent/capstan/spool/batch"
)

// oneRecord is the record and source attributes of a one-record batch.
func oneRecord(t testing.TB, src []batch.Attr, kind batch.Kind, body string, attrs []batch.Attr) (*batch.Record, batch.AttrIter) {
	t.Helper()
	var b batch.Builder
	b.ResetV2(1, 1, src)
	b.AddRecord(1_700_000_000_123_456_789, kind, []byte(body), attrs)
	bt, _, err := batch.Decode(b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	rec := new(batch.Record)
	it := bt.Records()
	if !it.Next(rec) {
		t.Fatal("no record")
	}
	return rec, bt.SourceAttrs()
}

func TestDocument(t *testing.T) {
	src := []batch.Attr{batch.StringAttr("host.name", "n1"), batch.StringAttr("path", "/l/a.log")}
	for _, tc := range []struct {
		name  string
		src   []batch.Attr
		kind  batch.Kind
		body  string
		attrs []batch.Attr
		want  string
	}{
		{"a line", src, batch.KindString, `he said "hi"`, nil,
			`{"@timestamp":"2023-11-14T22:13:20.123456789Z","message":"he said \"hi\"","host.name":"n1","log.file.path":"/l/a.log"}`},
		{"typed attributes", nil, batch.KindString, "x", []batch.Attr{batch.IntAttr("n", 7), batch.BoolAttr("ok", true), batch.JSONAttr("o", `{"a":[1]}`)},
			`{"@timestamp":"2023-11-14T22:13:20.123456789Z","n":7,"ok":true,"o":{"a":[1]},"message":"x"}`},
		{"a parsed JSON body gives its fields", src, batch.KindJSON, `{"msg":"m","level":"warn","host.name":"from-body","@timestamp":"ignored","d":{"e":"}"}}`, []batch.Attr{batch.StringAttr("level", "error")},
			`{"@timestamp":"2023-11-14T22:13:20.123456789Z","level":"error","msg":"m","host.name":"from-body","d":{"e":"}"},"log.file.path":"/l/a.log"}`},
		{"own message: the body is event.original", []batch.Attr{batch.StringAttr("message", "src")}, batch.KindString, "raw line", []batch.Attr{batch.StringAttr("message", "parsed")},
			`{"@timestamp":"2023-11-14T22:13:20.123456789Z","message":"parsed","event.original":"raw line"}`},
		{"own attribute wins over the source's", src, batch.KindString, "x", []batch.Attr{batch.StringAttr("host.name", "own")},
			`{"@timestamp":"2023-11-14T22:13:20.123456789Z","host.name":"own","message":"x","log.file.path":"/l/a.log"}`},
		{"a JSON array body is a string", nil, batch.KindJSON, `[1,2]`, nil,
			`{"@timestamp":"2023-11-14T22:13:20.123456789Z","message":"[1,2]"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec, s := oneRecord(t, tc.src, tc.kind, tc.body, tc.attrs)
			var c srcCache
			c.load(s)
			got := string(appendDocument(nil, rec, &c))
			if got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

// FuzzDocument: whatever a record holds, its document is one JSON object
// without a name twice, with @timestamp.
func FuzzDocument(f *testing.F) {
	f.Add(`{"a":1,"b":{"c":"}"},"message":"x"}`, "a", "v", "host", "h")
	f.Add("plain line", "message", "m", "message", "s")
	f.Add(`{"@timestamp":"t","a\"b":[{"x":null}]}`, "@timestamp", "t", "path", "/p")
	f.Fuzz(func(t *testing.T, body, ownKey, ownVal, srcKey, srcVal string) {
		// Names that are equal only once decoded (invalid UTF-8 made
		// U+FFFD, escapes in a body's names) are not seen as one: such a
		// document is refused by the node and dead-lettered with its reason.
		if !utf8.ValidString(ownKey) || !utf8.ValidString(srcKey) || strings.Contains(body, `\`) {
			return
		}
		kind := batch.KindString
		if c, ok := batch.CompactJSON(nil, []byte(body)); ok {
			kind, body = batch.KindJSON, string(c)
		}
		rec, s := oneRecord(t, []batch.Attr{batch.StringAttr(srcKey, srcVal)}, kind, body, []batch.Attr{batch.StringAttr(ownKey, ownVal)})
		var c srcCache
		c.load(s)
		doc := appendDocument(nil, rec, &c)
		dec := json.NewDecoder(strings.NewReader(string(doc)))
		tok, err := dec.Token()
		if err != nil || tok != json.Delim('{') {
			t.Fatalf("not an object: %s", doc)
		}
		seen := map[string]bool{}
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				t.Fatalf("%v in %s", err, doc)
			}
			key := k.(string)
			if seen[key] {
				t.Errorf("%q twice in %s", key, doc)
			}
			seen[key] = true
			var v json.RawMessage
			if err := dec.Decode(&v); err != nil {
				t.Fatalf("%v in %s", err, doc)
			}
		}
		if !seen["@timestamp"] {
			t.Errorf("no @timestamp in %s", doc)
		}
	})
}
