package esfake

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"unicode/utf8"
)

// FuzzParseBulk feeds arbitrary bodies through the parser, the cluster and
// the answer writer: no panic, and an answer that is valid JSON with one
// item per parsed action.
func FuzzParseBulk(f *testing.F) {
	f.Add([]byte("{\"create\":{\"_index\":\"a\",\"_id\":\"1\"}}\n{\"m\":1}\n"))
	f.Add([]byte("{\"update\":{\"_index\":\"a\",\"_id\":\"1\"}}\n{\"doc\":{\"m\":{\"n\":2}},\"doc_as_upsert\":true}\n{\"delete\":{\"_index\":\"a\",\"_id\":\"1\"}}\n"))
	f.Add([]byte("{\"index\":{\"_index\":\"logs-x-y\"}}\r\n{\"@timestamp\":\"2024-01-01\",\"a.b\":[1,{\"c\":null}]}\r\n"))
	f.Add([]byte("{\"index\":{}}\n\"x\"\n"))
	st := &store{}
	f.Fuzz(func(t *testing.T, body []byte) {
		var p, slow bulkParser
		slow.slow = true
		p.precheck, slow.precheck = true, true // as with storage off
		p.borrowIDs = true
		items, e := p.parse(body, "d", nil)
		want, we := slow.parse(body, "d", nil)
		if !reflect.DeepEqual(items, want) || !reflect.DeepEqual(e, we) {
			t.Fatalf("fast and general parsers differ:\n%+v %v\n%+v %v", items, e, want, we)
		}
		for _, it := range items {
			if it.validSource != (len(it.source) > 0 && validObject(it.source)) {
				t.Fatalf("validSource %v for %q", it.validSource, it.source)
			}
			if it.source != nil && validObject(it.source) {
				var chk store
				chk.init(Options{StorageOff: true}.withDefaults())
				if e := chk.validateSlow(it.source); e != nil {
					t.Fatalf("fast validation accepts %q, the scanner says %s", it.source, e.Reason)
				}
			}
		}
		if e != nil {
			if !json.Valid(e.appendBody(nil)) {
				t.Fatalf("error body not JSON: %s", e.appendBody(nil))
			}
			return
		}
		st.init(Options{DataStreams: []string{"logs-*-*"}, TotalFieldsLimit: 50}.withDefaults())
		results := make([]result, 0, len(items))
		for i := range items {
			results = append(results, st.apply(&items[i], NoFault))
		}
		out := appendBulkResponse(nil, nil, Elasticsearch, 0, true, results, nil)
		if filtered := appendBulkResponse(nil, &filter{}, Elasticsearch, 0, true, results, nil); !bytes.Equal(out, filtered) {
			t.Fatalf("fast answer %s\ndiffers from the general one %s", out, filtered)
		}
		// The item cache gives what the general writer gives, whatever the filter.
		for _, fp := range cacheFilters {
			var ic itemCache
			ic.reset(fp)
			for range 2 { // a cold cache, then a warm one
				got := appendBulkResponse(nil, parseFilterPath(fp), Elasticsearch, 0, true, results, &ic)
				if want := appendBulkResponse(nil, parseFilterPath(fp), Elasticsearch, 0, true, results, nil); !bytes.Equal(got, want) {
					t.Fatalf("filter_path=%s: cached answer %s\ndiffers from the general one %s", fp, got, want)
				}
			}
		}
		var resp struct{ Items []json.RawMessage }
		if err := json.Unmarshal(out, &resp); err != nil || len(resp.Items) != len(items) {
			t.Fatalf("answer %s (%v) for %d items", out, err, len(items))
		}
	})
}

// cacheFilters are filter_path values the item cache is checked under.
var cacheFilters = []string{
	"errors,items.*.status,items.*.error.type,items.*.error.reason",
	"items.*._id", "-items.*._index", "errors", "items", "items.**.total", "**.status,-**._shards",
	"items.create", "items.*._shards", "took,items.index.result,items.*.error",
}

// FuzzScanner checks the scanner against encoding/json: a line it reads as
// exactly one value is valid JSON, and valid JSON reads as one value.
func FuzzScanner(f *testing.F) {
	for _, s := range []string{`{"a":[1,2.5e-3,true,null,"x\u00e9\n"]}`, `[]`, `{}`, `"\ud83d\ude00"`, `-0.1`, `{"a":1,}`, `01`, `[1 2]`, `{"a" 1}`, "\"\x01\""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var s scanner
		s.reset(b)
		values, ok := 0, true
		for {
			tok, err := s.next()
			if err != nil {
				ok = false
				break
			}
			if tok.kind == tEOF {
				break
			}
			if len(s.stack) == 0 && tok.kind != tStartObject && tok.kind != tStartArray {
				values++
			}
			if tok.kind == tString || tok.kind == tField {
				if _, err := unquote(tok.raw); err != nil {
					t.Fatalf("scanned string %q does not unquote: %v", tok.raw, err)
				}
			}
		}
		// Jackson, like the scanner, refuses invalid UTF-8; encoding/json does not.
		valid := json.Valid(b) && utf8.Valid(b)
		if one := ok && values == 1; one != valid {
			t.Fatalf("%q: scanner read one value %v, encoding/json valid %v", b, one, valid)
		}
	})
}
