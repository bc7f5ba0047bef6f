package esfake

import (
	"net/http"
	"strings"
	"testing"
)

// Requests that Elasticsearch refuses whole: nothing is applied and the
// answer is a request-level error.
func TestBulkRequestErrors(t *testing.T) {
	s := Start(t, Options{})
	long := strings.Repeat("x", 513)
	for _, tc := range []struct {
		name   string
		path   string
		body   string
		hdr    []string
		status int
		want   string
	}{
		{"no final newline", "/_bulk", `{"index":{"_index":"a"}}` + "\n{}", nil, 400,
			reqError(400, "illegal_argument_exception", `The bulk request must be terminated by a newline [\n]`)},
		{"unknown action", "/_bulk", ndjson(`{"upsert":{"_index":"a"}}`, `{}`), nil, 400,
			reqError(400, "illegal_argument_exception", "Malformed action/metadata line [1], expected field [create], [delete], [index] or [update] but found [upsert]")},
		{"unknown action on line 3", "/_bulk", ndjson(`{"index":{"_index":"a"}}`, `{}`, `{"put":{}}`), nil, 400,
			reqError(400, "illegal_argument_exception", "Malformed action/metadata line [3], expected field [create], [delete], [index] or [update] but found [put]")},
		{"action line an array", "/_bulk", ndjson(`[1]`), nil, 400,
			reqError(400, "illegal_argument_exception", "Malformed action/metadata line [1], expected START_OBJECT but found [START_ARRAY]")},
		{"empty action object", "/_bulk", ndjson(`{}`), nil, 400,
			reqError(400, "illegal_argument_exception", "Malformed action/metadata line [1], expected FIELD_NAME but found [END_OBJECT]")},
		{"metadata not an object", "/_bulk", ndjson(`{"index":"a"}`, `{}`), nil, 400,
			reqError(400, "illegal_argument_exception", "Malformed action/metadata line [1], expected START_OBJECT or END_OBJECT but found [VALUE_STRING]")},
		{"_type is gone", "/_bulk", ndjson(`{"index":{"_index":"a","_type":"_doc"}}`, `{}`), nil, 400,
			reqError(400, "illegal_argument_exception", "Action/metadata line [1] contains an unknown parameter [_type]")},
		{"unknown metadata", "/_bulk", ndjson(`{"create":{"_index":"a","ttl":"1d"}}`, `{}`), nil, 400,
			reqError(400, "illegal_argument_exception", "Action/metadata line [1] contains an unknown parameter [ttl]")},
		{"metadata array", "/_bulk", ndjson(`{"create":{"_index":["a"]}}`, `{}`), nil, 400,
			reqError(400, "illegal_argument_exception", "Malformed action/metadata line [1], expected a simple value for field [_index] but found [START_ARRAY]")},
		{"two actions on a line", "/_bulk", ndjson(`{"create":{},"index":{}}`, `{}`), nil, 400,
			reqError(400, "illegal_argument_exception", "Malformed action/metadata line [1], expected END_OBJECT but found [FIELD_NAME]")},
		{"data after the action", "/_bulk", ndjson(`{"create":{}} {}`, `{}`), nil, 400,
			reqError(400, "illegal_argument_exception", "Malformed action/metadata line [1], unexpected data after the closing brace")},
		{"unclosed action", "/_bulk", ndjson(`{"create":{}`, `{}`), nil, 400,
			reqError(400, "x_content_e_o_f_exception", "[1:13] Unexpected end-of-input: expected close marker for Object")},
		{"action not JSON", "/_bulk", ndjson(`{create}`), nil, 400,
			reqError(400, "x_content_parse_exception", "[1:2] Unexpected character ('c' (code 99)): was expecting double-quote to start field name")},
		{"empty body", "/_bulk", "", nil, 400,
			reqError(400, "parse_exception", "request body is required")},
		{"only blank lines", "/_bulk", "\n  \n\r\n", nil, 400,
			reqError(400, "action_request_validation_exception", "Validation Failed: 1: no requests added;")},
		{"no index", "/_bulk", ndjson(`{"create":{"_id":"1"}}`, `{}`), nil, 400,
			reqError(400, "action_request_validation_exception", "Validation Failed: 1: index is missing;")},
		{"delete without id, empty id, long id", "/a/_bulk", ndjson(`{"delete":{}}`, `{"create":{"_id":""}}`, `{}`, `{"index":{"_id":"`+long+`"}}`, `{}`), nil, 400,
			reqError(400, "action_request_validation_exception", "Validation Failed: 1: id is missing;2: if _id is specified it must not be empty;3: id ["+long+"] is too long, must be no longer than 512 bytes but was: 513;")},
		{"update without doc", "/a/_bulk", ndjson(`{"update":{"_id":"1"}}`, `{"upsert":{}}`), nil, 400,
			reqError(400, "action_request_validation_exception", "Validation Failed: 1: script or doc is missing;")},
		{"update with an unknown field", "/a/_bulk", ndjson(`{"update":{"_id":"1"}}`, `{"doc":{},"fields":1}`), nil, 400,
			reqError(400, "x_content_parse_exception", "[1:11] [UpdateRequest] unknown field [fields]")},
		{"update body not an object", "/a/_bulk", ndjson(`{"update":{"_id":"1"}}`, `"x"`), nil, 400,
			reqError(400, "x_content_parse_exception", "[1:1] [UpdateRequest] Expected START_OBJECT but found [VALUE_STRING]")},
		{"update doc not an object", "/a/_bulk", ndjson(`{"update":{"_id":"1"}}`, `{"doc":[1]}`), nil, 400,
			reqError(400, "x_content_parse_exception", "[1:8] [UpdateRequest] doc doesn't support values of type: START_ARRAY")},
		{"unknown query parameter", "/_bulk?refresh=true&foo=1", ndjson(`{"index":{"_index":"a"}}`, `{}`), nil, 400,
			reqError(400, "illegal_argument_exception", "request [/_bulk] contains unrecognized parameter: [foo]")},
		{"no content type", "/_bulk", ndjson(`{"index":{"_index":"a"}}`, `{}`), []string{"Content-Type", ""}, 406,
			`{"error":"Content-Type header is missing","status":406}`},
		{"text content type", "/_bulk", ndjson(`{"index":{"_index":"a"}}`, `{}`), []string{"Content-Type", "text/plain"}, 406,
			`{"error":"Content-Type header [text/plain] is not supported","status":406}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := send(t, s, http.MethodPost, tc.path, []byte(tc.body), tc.hdr...)
			if a.status != tc.status || a.body != tc.want {
				t.Errorf("answer %d %s\nwant   %d %s", a.status, a.body, tc.status, tc.want)
			}
		})
	}
	if st := s.Stats(); st.Items != 0 || len(s.Indices()) != 0 {
		t.Errorf("refused requests applied something: %d items, indices %v", st.Items, s.Indices())
	}
}

func TestBulkAcceptedForms(t *testing.T) {
	s := Start(t, Options{})
	for _, tc := range []struct {
		name string
		path string
		body string
		hdr  []string
	}{
		{"json content type", "/_bulk", ndjson(`{"index":{"_index":"a"}}`, `{}`), []string{"Content-Type", "application/json; charset=UTF-8"}},
		{"compatible-with header", "/_bulk", ndjson(`{"index":{"_index":"a"}}`, `{}`), []string{"Content-Type", "application/vnd.elasticsearch+x-ndjson; compatible-with=8"}},
		{"CRLF lines", "/_bulk", "{\"index\":{\"_index\":\"a\"}}\r\n{}\r\n", nil},
		{"index in the path", "/a/_bulk", ndjson(`{"index":{}}`, `{}`), nil},
		{"PUT", "/_bulk", ndjson(`{"index":{"_index":"a"}}`, `{}`), nil},
		{"blank lines between actions", "/_bulk", "\n" + ndjson(`{"index":{"_index":"a"}}`, `{}`, ``, ` `, `{"delete":{"_index":"a","_id":"x"}}`), nil},
		{"null metadata ignored", "/_bulk", ndjson(`{"index":{"_index":"a","_id":null,"routing":null}}`, `{}`), nil},
		{"numeric id", "/_bulk", ndjson(`{"index":{"_index":"a","_id":7}}`, `{}`), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			method := http.MethodPost
			if tc.name == "PUT" {
				method = http.MethodPut
			}
			a := send(t, s, method, tc.path, []byte(tc.body), tc.hdr...)
			if a.status != 200 {
				t.Fatalf("answer %d %s", a.status, a.body)
			}
			if errs, _ := items(t, a); errs {
				t.Fatalf("items failed: %s", a.body)
			}
		})
	}
	if _, ok := s.Document("a", "7"); !ok {
		t.Error(`"_id":7 did not store document "7"`)
	}
}

// A final action without its document line is dropped, as the real parser
// drops it; alone it leaves no request.
func TestBulkDanglingAction(t *testing.T) {
	s := Start(t, Options{})
	a := bulk(t, s, ndjson(`{"index":{"_index":"a","_id":"1"}}`, `{}`, `{"index":{"_index":"a","_id":"2"}}`))
	_, its := items(t, a)
	if a.status != 200 || len(its) != 1 || *its[0].ID != "1" {
		t.Fatalf("answer %d %s", a.status, a.body)
	}
	a = bulk(t, s, ndjson(`{"create":{"_index":"a","_id":"2"}}`))
	if want := reqError(400, "action_request_validation_exception", "Validation Failed: 1: no requests added;"); a.body != want {
		t.Errorf("answer %s\nwant   %s", a.body, want)
	}
}
