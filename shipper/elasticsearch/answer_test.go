package elasticsearch

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/capstan-agent/capstan/shipper/elasticsearch/esfake"
)

func TestReadBulk(t *testing.T) {
	for _, tc := range []struct {
		name   string
		in     string
		errs   bool
		items  []bulkItem
		broken bool
	}{
		{"filtered, all created", `{"errors":false,"items":[{"create":{"status":201}},{"create":{"status":201}}]}`, false,
			[]bulkItem{{status: 201}, {status: 201}}, false},
		{"full answer", `{"took":3,"errors":true,"items":[{"create":{"_index":"logs","_id":"a","_version":1,"result":"created","_shards":{"total":2,"successful":1,"failed":0},"_seq_no":0,"_primary_term":1,"status":201}},` +
			`{"create":{"_index":"logs","_id":"b","status":409,"error":{"type":"version_conflict_engine_exception","reason":"[b]: version conflict, document already exists (current version [1])","index_uuid":"x","shard":"0","index":"logs"}}}]}`, true,
			[]bulkItem{{status: 201}, {status: 409, typ: []byte("version_conflict_engine_exception"), cause: []byte("[b]: version conflict, document already exists (current version [1])")}}, false},
		{"status after error, spaces", " {\n \"items\" : [ { \"index\" : { \"error\" : { \"reason\" : \"r\\\"q\" , \"caused_by\":{\"type\":\"x\"}, \"type\" : \"t\" } , \"status\" : 400 } } ] , \"errors\" : true }\n", true,
			[]bulkItem{{status: 400, typ: []byte("t"), cause: []byte(`r\"q`)}}, false},
		{"an old node's string error", `{"errors":true,"items":[{"create":{"status":400,"error":"MapperParsingException[failed]"}}]}`, true,
			[]bulkItem{{status: 400, cause: []byte("MapperParsingException[failed]")}}, false},
		{"no items", `{"errors":false}`, false, nil, false},
		{"cut short", `{"errors":false,"items":[{"create":{"status":201}},{"create":{"sta`, false, nil, true},
		{"not JSON", `<html>bad gateway</html>`, false, nil, true},
		{"item without status", `{"errors":false,"items":[{"create":{}}]}`, false, nil, true},
		{"trailing garbage", `{"errors":false,"items":[]}x`, false, nil, true},
		{"errors not a bool", `{"errors":"no","items":[]}`, false, nil, true},
		{"missing comma", `{"errors":false "items":[]}`, false, nil, true},
		{"status too big", `{"items":[{"create":{"status":12345678901}}]}`, false, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			errs, items, err := readBulk([]byte(tc.in), nil)
			if tc.broken {
				if !errors.Is(err, errAnswer) {
					t.Errorf("read %v, %v; want errAnswer", items, err)
				}
				return
			}
			if err != nil || errs != tc.errs || fmt.Sprint(items) != fmt.Sprint(tc.items) {
				t.Errorf("got %v %v %v\nwant %v %v", errs, items, err, tc.errs, tc.items)
			}
		})
	}
}

// TestAllCreated: the fast path takes only the exact answer of n
// successful creates; every other answer goes to readBulk.
func TestAllCreated(t *testing.T) {
	created := func(n int) string {
		return `{"errors":false,"items":[` + strings.TrimSuffix(strings.Repeat(`{"create":{"status":201}},`, n), ",") + `]}`
	}
	for _, tc := range []struct {
		name string
		in   string
		n    int
		want bool
	}{
		{"one", created(1), 1, true},
		{"three", created(3), 3, true},
		{"fewer items than records", created(2), 3, false},
		{"more items than records", created(3), 2, false},
		{"no records", created(0), 0, false},
		{"a duplicate", `{"errors":true,"items":[{"create":{"status":201}},{"create":{"status":409}}]}`, 2, false},
		{"errors false, a 200", `{"errors":false,"items":[{"create":{"status":201}},{"create":{"status":200}}]}`, 2, false},
		{"an index action", `{"errors":false,"items":[{"index":{"status":201}}]}`, 1, false},
		{"a space", `{"errors":false, "items":[{"create":{"status":201}}]}`, 1, false},
		{"a semicolon for a comma", strings.Replace(created(2), "},{", "};{", 1), 2, false},
		{"the full answer", `{"took":3,"errors":false,"items":[{"create":{"_index":"logs","_id":"a","_version":1,"result":"created","status":201}}]}`, 1, false},
		{"cut short", created(2)[:len(created(2))-1], 2, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := allCreated([]byte(tc.in), tc.n); got != tc.want {
				t.Fatalf("allCreated(%s, %d) = %v", tc.in, tc.n, got)
			}
		})
	}
}

// TestAllCreatedOfTheFake: what the fake (written from what a node
// answers) says to creates that all succeed, under the output's
// filter_path, takes the fast path.
func TestAllCreatedOfTheFake(t *testing.T) {
	f, _ := esfake.New(esfake.Options{})
	defer f.Close()
	srv := httptest.NewServer(f)
	defer srv.Close()
	var body strings.Builder
	for i := range 3 {
		fmt.Fprintf(&body, "{\"create\":{\"_index\":\"logs\",\"_id\":\"%d\"}}\n{\"message\":\"m\"}\n", i)
	}
	resp, err := http.Post(srv.URL+"/_bulk?filter_path="+filterPath, "application/x-ndjson", strings.NewReader(body.String()))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := readAll(resp)
	if !allCreated(b, 3) {
		t.Fatalf("the fake's answer to three creates is not the fast path's: %s", b)
	}
}

// TestReadBulkOfTheFake: the reader reads what the fake answers, with
// and without the output's filter_path, errors included.
func TestReadBulkOfTheFake(t *testing.T) {
	for _, q := range []string{"", "?filter_path=" + filterPath} {
		f, _ := esfake.New(esfake.Options{})
		srv := httptest.NewServer(f)
		f.Script(esfake.Fault{Items: map[int]esfake.ItemFault{1: esfake.MappingError400, 2: esfake.Reject429}})
		var body strings.Builder
		for i := range 4 {
			fmt.Fprintf(&body, "{\"create\":{\"_index\":\"logs\",\"_id\":\"%d\"}}\n{\"message\":\"m\"}\n", i%3)
		}
		resp, err := http.Post(srv.URL+"/_bulk"+q, "application/x-ndjson", strings.NewReader(body.String()))
		if err != nil {
			t.Fatal(err)
		}
		var b []byte
		b, _ = readAll(resp)
		srv.Close()
		f.Close()
		errs, items, err := readBulk(b, nil)
		if err != nil || !errs || len(items) != 4 {
			t.Fatalf("%q: %v %v %v from\n%s", q, errs, items, err, b)
		}
		for i, want := range []int{201, 400, 429, 409} {
			if items[i].status != want {
				t.Errorf("%q item %d: status %d, want %d", q, i, items[i].status, want)
			}
		}
		if string(items[1].typ) != "document_parsing_exception" || len(items[1].cause) == 0 {
			t.Errorf("%q: item 1's error %q %q", q, items[1].typ, items[1].cause)
		}
	}
}

func readAll(resp *http.Response) ([]byte, error) {
	defer resp.Body.Close()
	var out []byte
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		out = append(out, buf[:n]...)
		if err != nil {
			return out, nil
		}
	}
}

// FuzzReadBulk: no answer panics the reader; an answer it reads is JSON,
// and has the items it says (each with a status).
func FuzzReadBulk(f *testing.F) {
	for _, s := range []string{
		`{"errors":false,"items":[{"create":{"status":201}}]}`,
		`{"took":1,"errors":true,"items":[{"create":{"_index":"l","status":429,"error":{"type":"es_rejected_execution_exception","reason":"r"}}}]}`,
		`{"errors":true,"items":[{"create":{"status":400,"error":"x"}}]}`,
		`{"items":[]}`, `{`, `[]`, `{"a":[1,{"b":null}],"items":[{"x":{"status":1}}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		errs, items, err := readBulk(b, nil)
		for _, n := range []int{1, 2, 3, len(items)} {
			// The fast path says yes only where readBulk reads n creates,
			// all 201, and no errors.
			if allCreated(b, n) && (err != nil || errs || len(items) != n || slices.ContainsFunc(items, func(it bulkItem) bool { return it.status != 201 })) {
				t.Errorf("allCreated(%q, %d), but readBulk: %v %v %v", b, n, errs, items, err)
			}
		}
		if err != nil {
			return
		}
		if !json.Valid(b) {
			t.Errorf("read %d items from invalid JSON %q", len(items), b)
		}
		var v struct {
			Items []map[string]struct {
				Status int `json:"status"`
			} `json:"items"`
		}
		if json.Unmarshal(b, &v) == nil && len(v.Items) != len(items) {
			t.Errorf("%d items read, encoding/json sees %d in %q", len(items), len(v.Items), b)
		}
		for _, it := range items {
			if it.status <= 0 {
				t.Errorf("item with status %d in %q", it.status, b)
			}
		}
	})
}
