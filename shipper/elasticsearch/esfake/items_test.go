package esfake

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files")

var uuidRE = regexp.MustCompile(`"index_uuid":"[A-Za-z0-9_-]{22}"`)

// golden compares got with testdata/name, after replacing random index
// uuids; -update rewrites the file.
func golden(t *testing.T, name, got string) {
	t.Helper()
	got = uuidRE.ReplaceAllString(got, `"index_uuid":"UUID"`)
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("golden file: %v", err)
	}
	if got+"\n" != string(want) {
		t.Errorf("answer differs from %s:\n%s\nwant\n%s", path, got, want)
	}
}

// The answer to a bulk request with every result kind, byte for byte.
func TestBulkAnswerGolden(t *testing.T) {
	for _, flavor := range []Flavor{Elasticsearch, OpenSearch} {
		t.Run(flavor.String(), func(t *testing.T) {
			s := Start(t, Options{Flavor: flavor})
			bulk(t, s, ndjson(`{"create":{"_index":"logs","_id":"a"}}`, `{"message":"first","n":1}`))
			a := bulk(t, s, ndjson(
				`{"create":{"_index":"logs","_id":"a"}}`, `{"message":"again","n":1}`,
				`{"create":{"_index":"logs","_id":"b"}}`, `{"message":"second","n":2}`,
				`{"index":{"_index":"logs","_id":"b"}}`, `{"message":"second, replaced","n":2}`,
				`{"index":{"_index":"logs","_id":"c"}}`, `{"message":"third","n":"three"}`,
				`{"update":{"_index":"logs","_id":"a"}}`, `{"doc":{"n":10}}`,
				`{"update":{"_index":"logs","_id":"a"}}`, `{"doc":{"n":10}}`,
				`{"update":{"_index":"logs","_id":"z"}}`, `{"doc":{"n":1}}`,
				`{"delete":{"_index":"logs","_id":"b"}}`,
				`{"delete":{"_index":"logs","_id":"b"}}`,
				`{"create":{"_index":"Logs","_id":"d"}}`, `{}`,
			))
			if a.status != 200 {
				t.Fatalf("status %d: %s", a.status, a.body)
			}
			golden(t, "bulk_answer_"+flavor.String()+".json", a.body)
			if got := string(mustDoc(t, s, "logs", "a").Source); got != `{"message":"first","n":10}` {
				t.Errorf("updated document %s", got)
			}
			st := s.Stats()
			if st.Conflicts != 1 || st.Created != 2 || st.Updated != 2 || st.Deleted != 1 || st.Noops != 1 || st.Docs["logs"] != 1 {
				t.Errorf("stats %+v", st)
			}
			if st.ItemsByStatus[201] != 2 || st.ItemsByStatus[409] != 1 || st.ItemsByStatus[400] != 2 || st.ItemsByStatus[404] != 2 || st.ItemsByStatus[200] != 4 {
				t.Errorf("items by status %v", st.ItemsByStatus)
			}
		})
	}
}

func mustDoc(t *testing.T, s *Server, index, id string) Document {
	t.Helper()
	d, ok := s.Document(index, id)
	if !ok {
		t.Fatalf("document %s/%s missing; have %v", index, id, s.Documents(index))
	}
	return d
}

// Document lines that fail one item, not the request, with the reason the
// real server gives.
func TestBulkItemErrors(t *testing.T) {
	s := Start(t, Options{TotalFieldsLimit: 8})
	bulk(t, s, ndjson(`{"index":{"_index":"m","_id":"seed"}}`, `{"n":1,"o":{"p":1},"flag":true,"at":"2024-05-01T10:00:00Z","s":"x"}`))
	for _, tc := range []struct {
		name, doc, typ, reason string
	}{
		{"not an object", `"hello"`, "document_parsing_exception", "Malformed content, must start with an object"},
		{"an array", `[1,2]`, "document_parsing_exception", "Malformed content, must start with an object"},
		{"empty", ``, "document_parsing_exception", "[0:0] failed to parse, document is empty"},
		{"broken JSON", `{"a":}`, "document_parsing_exception", "[1:6] failed to parse: Unexpected character ('}' (code 125)): expected a value"},
		{"two objects", `{"a":1} {"b":2}`, "illegal_argument_exception", "Malformed content, found extra data after parsing: START_OBJECT"},
		{"metadata field", `{"_id":"x"}`, "document_parsing_exception", "[1:2] failed to parse: Field [_id] is a metadata field and cannot be added inside a document. Use the index API request parameters."},
		{"empty field name", `{"":1}`, "document_parsing_exception", "[1:2] failed to parse: Field name cannot be an empty string"},
		{"string into long", `{"n":"many"}`, "document_parsing_exception", "[1:6] failed to parse field [n] of type [long] in document with id 'doc'. Preview of field's value: 'many'"},
		{"value into object", `{"o":5}`, "document_parsing_exception", "[1:6] object mapping for [o] tried to parse field [o] as object, but found a concrete value"},
		{"object into keyword", `{"s":{"t":1}}`, "document_parsing_exception", "[1:6] failed to parse field [s] of type [text] in document with id 'doc'. Preview of field's value: '{\"t\":1}'"},
		{"bad boolean", `{"flag":"yes"}`, "document_parsing_exception", "[1:9] failed to parse field [flag] of type [boolean] in document with id 'doc'. Preview of field's value: 'yes'"},
		{"bad date", `{"at":"yesterday"}`, "document_parsing_exception", "[1:7] failed to parse field [at] of type [date] in document with id 'doc'. Preview of field's value: 'yesterday'"},
		{"dotted name over a value", `{"n.x":1}`, "document_parsing_exception", "[1:2] Could not dynamically add mapping for field [n]. Existing mapping for [n] must be of type object but found [long]."},
		{"too many fields", `{"f1":1,"f2":2}`, "document_parsing_exception", "[1:14] failed to parse: Limit of total fields [8] has been exceeded while adding new fields [2]"},
		{"leading dot", `{".a":1}`, "document_parsing_exception", "[1:2] failed to parse: object field starting or ending with a [.] makes object resolution ambiguous: [.a]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := bulk(t, s, ndjson(`{"index":{"_index":"m","_id":"doc"}}`, tc.doc, `{"index":{"_index":"m","_id":"ok"}}`, `{"n":2}`))
			errs, its := items(t, a)
			if a.status != 200 || !errs || len(its) != 2 {
				t.Fatalf("answer %d %s", a.status, a.body)
			}
			if its[0].Status != 400 || its[0].Error["type"] != tc.typ || its[0].Error["reason"] != tc.reason {
				t.Errorf("item %d %v\nwant %s %q", its[0].Status, its[0].Error, tc.typ, tc.reason)
			}
			if its[1].Status != 200 && its[1].Status != 201 {
				t.Errorf("the valid item beside it: %+v", its[1])
			}
		})
	}
	if _, ok := s.Document("m", "doc"); ok {
		t.Error("a refused document was stored")
	}
}

// Coercions the real server accepts must be accepted.
func TestBulkMappingAccepts(t *testing.T) {
	s := Start(t, Options{})
	a := bulk(t, s, ndjson(
		`{"index":{"_index":"m"}}`, `{"n":1,"f":1.5,"b":true,"d":"2024-05-01","s":"x","o":{"p":"q"},"a.b":1,"arr":[1,2],"nul":null}`,
		`{"index":{"_index":"m"}}`, `{"n":"42","f":2,"b":"false","d":1714557600000,"s":17,"o":{"r":1},"a":{"c":2},"arr":3,"nul":{"x":1}}`,
		`{"index":{"_index":"m"}}`, `{"n":3.7,"d":"2024-05-01T10:11:12.123456789+02:00","s":false}`,
	))
	if errs, _ := items(t, a); errs {
		t.Fatalf("coercible documents refused: %s", a.body)
	}
}

func TestDataStreams(t *testing.T) {
	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	s := Start(t, Options{DataStreams: []string{"logs-*-*"}, Now: func() time.Time { return now }})
	a := bulk(t, s, ndjson(
		`{"create":{"_index":"logs-app-default","_id":"1"}}`, `{"@timestamp":"2024-05-01T11:00:00Z","message":"m"}`,
		`{"index":{"_index":"logs-app-default","_id":"2"}}`, `{"@timestamp":"2024-05-01T11:00:00Z"}`,
		`{"create":{"_index":"logs-app-default","_id":"3"}}`, `{"message":"no time"}`,
		`{"delete":{"_index":"logs-app-default","_id":"1"}}`,
		`{"create":{"_index":"logs-app-default","_id":"1"}}`, `{"@timestamp":"2024-05-01T11:00:00Z","message":"m"}`,
		`{"index":{"_index":"logsapp","_id":"1"}}`, `{}`,
	))
	_, its := items(t, a)
	const backing = ".ds-logs-app-default-2024.05.01-000001"
	want := []struct {
		status int
		index  string
		typ    string
	}{
		{201, backing, ""},
		{400, "logs-app-default", "illegal_argument_exception"},
		{400, backing, "document_parsing_exception"},
		{400, "logs-app-default", "illegal_argument_exception"},
		{409, backing, "version_conflict_engine_exception"},
		{201, "logsapp", ""},
	}
	if len(its) != len(want) {
		t.Fatalf("answer %s", a.body)
	}
	for i, w := range want {
		typ, _ := its[i].Error["type"].(string)
		if its[i].Status != w.status || its[i].Index != w.index || typ != w.typ {
			t.Errorf("item %d: %d %s %v, want %d %s %s", i, its[i].Status, its[i].Index, its[i].Error, w.status, w.index, w.typ)
		}
	}
	if r := its[1].Error["reason"]; r != "only write ops with an op_type of create are allowed in data streams" {
		t.Errorf("reason %q", r)
	}
	if n := s.DocCount("logs-app-default"); n != 1 {
		t.Errorf("data stream holds %d documents", n)
	}
}

func TestIndexNames(t *testing.T) {
	s := Start(t, Options{})
	for name, why := range map[string]string{
		"Logs":                   "must be lowercase",
		"_logs":                  "must not start with '_', '-', or '+'",
		"a b":                    `must not contain the following characters [ , ", *, \, <, |, ,, >, /, ?]`,
		"a#b":                    "must not contain '#'",
		"..":                     "must not be '.' or '..'",
		strings.Repeat("x", 256): "index name is too long, (256 > 255)",
	} {
		a := bulk(t, s, ndjson(fmt.Sprintf(`{"create":{"_index":%q}}`, name), `{}`))
		_, its := items(t, a)
		if len(its) != 1 || its[0].Status != 400 || its[0].Error["type"] != "invalid_index_name_exception" ||
			its[0].Error["reason"] != fmt.Sprintf("Invalid index name [%s], %s", name, why) {
			t.Errorf("%q: %s", name, a.body)
		}
	}
}

func TestUpdate(t *testing.T) {
	s := Start(t, Options{})
	a := bulk(t, s, ndjson(
		`{"update":{"_index":"u","_id":"1"}}`, `{"doc":{"a":1},"upsert":{"a":0,"b":{"c":1}}}`,
		`{"update":{"_index":"u","_id":"1"}}`, `{"doc":{"b":{"d":2}}}`,
		`{"update":{"_index":"u","_id":"2"}}`, `{"doc":{"x":1},"doc_as_upsert":true}`,
		`{"update":{"_index":"u","_id":"1"}}`, `{"doc":{"a":0},"detect_noop":false}`,
		`{"update":{"_index":"u","_id":"1"}}`, `{"script":{"source":"ctx._source.a++"}}`,
	))
	_, its := items(t, a)
	got := []string{}
	for _, it := range its {
		got = append(got, fmt.Sprintf("%d %s v%d", it.Status, it.Result, it.Version))
	}
	want := []string{"201 created v1", "200 updated v2", "201 created v1", "200 updated v3", "400  v0"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("results %v, want %v\n%s", got, want, a.body)
	}
	if d := mustDoc(t, s, "u", "1"); string(d.Source) != `{"a":0,"b":{"c":1,"d":2}}` {
		t.Errorf("merged document %s", d.Source)
	}
}

func TestOpTypeAndSeqNo(t *testing.T) {
	s := Start(t, Options{})
	bulk(t, s, ndjson(`{"index":{"_index":"o","_id":"1"}}`, `{"v":1}`))
	_, its := items(t, bulk(t, s, ndjson(
		`{"index":{"_index":"o","_id":"1","op_type":"create"}}`, `{"v":2}`,
		`{"index":{"_index":"o","_id":"1","if_seq_no":5,"if_primary_term":1}}`, `{"v":3}`,
		`{"index":{"_index":"o","_id":"1","if_seq_no":0,"if_primary_term":1}}`, `{"v":4}`,
		`{"delete":{"_index":"o","_id":"2","if_seq_no":0,"if_primary_term":1}}`,
	)))
	want := []struct {
		status int
		reason string
	}{
		{409, "[1]: version conflict, document already exists (current version [1])"},
		{409, "[1]: version conflict, required seqNo [5], primary term [1]. current document has seqNo [0] and primary term [1]"},
		{200, ""},
		{409, "[2]: version conflict, required seqNo [0], primary term [1]. but no document was found"},
	}
	for i, w := range want {
		if r, _ := its[i].Error["reason"].(string); its[i].Status != w.status || r != w.reason {
			t.Errorf("item %d: %d %q, want %d %q", i, its[i].Status, r, w.status, w.reason)
		}
	}
	if its[0].Action != "index" {
		t.Errorf("an index action with op_type create answers under %q", its[0].Action)
	}
	if c := s.Stats().Conflicts; c != 1 {
		t.Errorf("conflicts %d: only the create of an existing id is one", c)
	}
	if a := send(t, s, "HEAD", "/", nil); a.status != 200 || a.body != "" {
		t.Errorf("HEAD /: %d %q", a.status, a.body)
	}
}
