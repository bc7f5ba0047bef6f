package esfake

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
)

func TestInfo(t *testing.T) {
	for _, tc := range []struct {
		flavor                                 Flavor
		product, number, tagline, distribution string
	}{
		{Elasticsearch, "Elasticsearch", "8.17.0", "You Know, for Search", ""},
		{OpenSearch, "", "2.18.0", "The OpenSearch Project: https://opensearch.org/", "opensearch"},
	} {
		t.Run(tc.flavor.String(), func(t *testing.T) {
			s := Start(t, Options{Flavor: tc.flavor})
			a := send(t, s, http.MethodGet, "/", nil)
			var info struct {
				Version struct {
					Number, Distribution string
				}
				Tagline string
			}
			if err := json.Unmarshal([]byte(a.body), &info); err != nil || a.status != 200 {
				t.Fatalf("GET / → %d %s (%v)", a.status, a.body, err)
			}
			if got := a.header.Get("X-Elastic-Product"); got != tc.product {
				t.Errorf("X-Elastic-Product %q", got)
			}
			if info.Version.Number != tc.number || info.Tagline != tc.tagline || info.Version.Distribution != tc.distribution {
				t.Errorf("info %+v", info)
			}
			if a := bulk(t, s, "x"); tc.product != "" && a.header.Get("X-Elastic-Product") != tc.product {
				t.Errorf("an error answer lacks the product header")
			}
		})
	}
}

func TestRouting(t *testing.T) {
	s := Start(t, Options{})
	for _, tc := range []struct {
		method, path string
		status       int
		want         string
	}{
		{http.MethodGet, "/_bulk", 405, `{"error":"Incorrect HTTP method for uri [/_bulk] and method [GET], allowed: [POST, PUT]","status":405}`},
		{http.MethodDelete, "/", 405, `{"error":"Incorrect HTTP method for uri [/] and method [DELETE], allowed: [GET, HEAD]","status":405}`},
		{http.MethodGet, "/_cat/indices", 400, `{"error":"no handler found for uri [/_cat/indices] and method [GET]","status":400}`},
	} {
		if a := send(t, s, tc.method, tc.path, nil); a.status != tc.status || a.body != tc.want {
			t.Errorf("%s %s → %d %s\nwant %d %s", tc.method, tc.path, a.status, a.body, tc.status, tc.want)
		}
	}
}

func TestAuth(t *testing.T) {
	s := Start(t, Options{Users: map[string]string{"elastic": "changeme"}, APIKeys: map[string]string{"k1": "secret"}, BearerTokens: []string{"tok"}})
	header := `"header":{"WWW-Authenticate":["Basic realm=\"security\", charset=\"UTF-8\"","Bearer realm=\"security\"","ApiKey"]}`
	apikey := func(v string) string { return "ApiKey " + base64.StdEncoding.EncodeToString([]byte(v)) }
	denied := func(reason, extra string) string {
		inner := `{"type":"security_exception","reason":` + quoteJSON(reason) + extra + `,` + header + `}`
		return `{"error":{"root_cause":[` + inner + `],` + inner[1:len(inner)-1] + `},"status":401}`
	}
	for _, tc := range []struct {
		name, auth string
		status     int
		want       string
	}{
		{"none", "", 401, denied("missing authentication credentials for REST request [/_bulk]", "")},
		{"unknown scheme", "Negotiate abc", 401, denied("missing authentication credentials for REST request [/_bulk]", "")},
		{"wrong password", basic("elastic", "nope"), 401, denied("unable to authenticate user [elastic] for REST request [/_bulk]", "")},
		{"unknown api key", apikey("k2:secret"), 401, denied(anonymousRefused, `,"additional_unsuccessful_credentials":"API key: unable to find apikey with id k2"`)},
		{"wrong api key", apikey("k1:other"), 401, denied(anonymousRefused, `,"additional_unsuccessful_credentials":"API key: invalid credentials for API key [k1]"`)},
		{"wrong token", "Bearer other", 401, denied(anonymousRefused, "")},
		{"basic", basic("elastic", "changeme"), 200, ""},
		{"api key", apikey("k1:secret"), 200, ""},
		{"bearer", "Bearer tok", 200, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := bulk(t, s, ndjson(`{"index":{"_index":"a"}}`, `{}`), "Authorization", tc.auth)
			if a.status != tc.status || tc.want != "" && a.body != tc.want {
				t.Errorf("answer %d %s\nwant   %d %s", a.status, a.body, tc.status, tc.want)
			}
			if tc.status == 401 && len(a.header.Values("WWW-Authenticate")) != 3 {
				t.Errorf("WWW-Authenticate %q", a.header.Values("WWW-Authenticate"))
			}
		})
	}
	if n := s.DocCount("a"); n != 3 {
		t.Errorf("%d documents stored, want 3 (one per accepted credential)", n)
	}
	if a := send(t, s, http.MethodGet, "/", nil); a.status != 401 {
		t.Errorf("GET / without credentials → %d", a.status)
	}

	ops := Start(t, Options{Flavor: OpenSearch, Users: map[string]string{"admin": "admin"}})
	a := bulk(t, ops, ndjson(`{"index":{"_index":"a"}}`, `{}`))
	if a.status != 401 || a.body != "Unauthorized" || a.header.Get("WWW-Authenticate") != `Basic realm="OpenSearch Security"` {
		t.Errorf("OpenSearch 401: %d %q %q", a.status, a.body, a.header.Get("WWW-Authenticate"))
	}
	if _, err := New(Options{Flavor: OpenSearch, APIKeys: map[string]string{"a": "b"}}); err == nil {
		t.Error("OpenSearch with API keys accepted")
	}
}

func gzipped(t *testing.T, s string) []byte {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write([]byte(s))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestContentEncodingAndSize(t *testing.T) {
	s := Start(t, Options{MaxContentLength: 100})
	small := ndjson(`{"index":{"_index":"a"}}`, `{"m":"x"}`)
	big := ndjson(`{"index":{"_index":"a"}}`, `{"m":"`+strings.Repeat("x", 100)+`"}`)
	a := send(t, s, http.MethodPost, "/_bulk", gzipped(t, small), "Content-Encoding", "gzip")
	if errs, its := items(t, a); a.status != 200 || errs || len(its) != 1 {
		t.Fatalf("gzip body: %d %s", a.status, a.body)
	}
	for name, body := range map[string][]byte{"plain": []byte(big), "gzip": gzipped(t, big)} {
		a := send(t, s, http.MethodPost, "/_bulk", body, "Content-Encoding", map[string]string{"plain": "", "gzip": "gzip"}[name])
		if a.status != 413 || a.body != "" {
			t.Errorf("%s body over the limit: %d %q", name, a.status, a.body)
		}
	}
	a = send(t, s, http.MethodPost, "/_bulk", []byte("garbage"), "Content-Encoding", "gzip")
	if a.status != 400 {
		t.Errorf("corrupt gzip: %d %s", a.status, a.body)
	}
	st := s.Stats()
	if st.RequestsByStatus[413] != 2 || st.BytesDecoded < int64(len(small)) || st.BytesReceived <= 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestFilterPath(t *testing.T) {
	s := Start(t, Options{})
	ok := ndjson(`{"create":{"_index":"a","_id":"1"}}`, `{}`)
	for _, tc := range []struct {
		filter, body, want string
	}{
		{"errors,items.*.error", ok, `{"errors":false}`},
		{"errors,items.*.error,items.*.status", ok, `{"errors":true,"items":[{"create":{"status":409,"error":{"type":"version_conflict_engine_exception","reason":"[1]: version conflict, document already exists (current version [1])","index_uuid":"UUID","shard":"0","index":"a"}}}]}`},
		{"items.*._id,took", ndjson(`{"create":{"_index":"a","_id":"2"}}`, `{}`), `{"took":0,"items":[{"create":{"_id":"2"}}]}`},
		{"-items.*._shards,-took", ndjson(`{"index":{"_index":"a","_id":"3"}}`, `{}`), `{"errors":false,"items":[{"index":{"_index":"a","_id":"3","_version":1,"result":"created","_seq_no":2,"_primary_term":1,"status":201}}]}`},
		{"**.status", ndjson(`{"index":{"_index":"a","_id":"3"}}`, `{}`), `{"items":[{"index":{"status":200}}]}`},
	} {
		a := send(t, s, http.MethodPost, "/_bulk?filter_path="+tc.filter, []byte(tc.body))
		if got := uuidRE.ReplaceAllString(a.body, `"index_uuid":"UUID"`); got != tc.want {
			t.Errorf("filter_path=%s:\n%s\nwant\n%s", tc.filter, got, tc.want)
		}
	}
}

func TestStorageOff(t *testing.T) {
	s := Start(t, Options{StorageOff: true})
	body := ndjson(`{"create":{"_index":"a","_id":"1"}}`, `{"m":1}`, `{"create":{"_index":"a","_id":"2"}}`, `{"m":"not a long, unchecked"}`, `{"create":{"_index":"a","_id":"3"}}`, `[1]`)
	_, its := items(t, bulk(t, s, body))
	if len(its) != 3 || its[0].Status != 201 || its[1].Status != 201 || its[2].Status != 400 {
		t.Fatalf("first pass %+v", its)
	}
	_, its = items(t, bulk(t, s, body))
	if its[0].Status != 409 || its[1].Status != 409 {
		t.Errorf("replay not detected: %+v", its)
	}
	bulk(t, s, ndjson(`{"delete":{"_index":"a","_id":"1"}}`))
	if n, docs := s.DocCount("a"), s.Documents("a"); n != 1 || len(docs) != 0 {
		t.Errorf("count %d, documents %v", n, docs)
	}
	if st := s.Stats(); st.Conflicts != 2 || st.Created != 2 || st.Deleted != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestScriptedFaults(t *testing.T) {
	s := Start(t, Options{})
	doc := func(id string) string { return ndjson(`{"create":{"_index":"a","_id":"`+id+`"}}`, `{}`) }
	s.Script(
		Fault{Status: 429},
		Fault{Status: 503},
		Fault{Status: 413},
		Fault{Items: map[int]ItemFault{1: Reject429, 2: MappingError400, 3: Unavailable503, 4: Internal500, 5: IndexClosed400}},
	)
	a := bulk(t, s, doc("1"))
	if a.status != 429 || !strings.Contains(a.body, `"type":"es_rejected_execution_exception"`) || !strings.HasSuffix(a.body, `"status":429}`) {
		t.Errorf("scripted 429: %d %s", a.status, a.body)
	}
	if a = bulk(t, s, doc("1")); a.status != 503 || a.body != reqError(503, "cluster_block_exception", "blocked by: [SERVICE_UNAVAILABLE/2/no master];") {
		t.Errorf("scripted 503: %d %s", a.status, a.body)
	}
	if a = bulk(t, s, doc("1")); a.status != 413 || a.body != "" {
		t.Errorf("scripted 413: %d %s", a.status, a.body)
	}
	if s.DocCount("a") != 0 {
		t.Fatal("a whole-request fault applied items")
	}
	a = bulk(t, s, doc("1")+doc("2")+doc("3")+doc("4")+doc("5")+doc("6"))
	_, its := items(t, a)
	want := []struct {
		status int
		typ    string
	}{{201, ""}, {429, "es_rejected_execution_exception"}, {400, "document_parsing_exception"}, {503, "unavailable_shards_exception"}, {500, "illegal_state_exception"}, {400, "index_closed_exception"}}
	for i, w := range want {
		if typ, _ := its[i].Error["type"].(string); its[i].Status != w.status || typ != w.typ {
			t.Errorf("item %d: %d %v, want %d %s", i, its[i].Status, its[i].Error, w.status, w.typ)
		}
	}
	if s.DocCount("a") != 1 || s.Pending() != 0 {
		t.Errorf("%d docs, %d faults pending", s.DocCount("a"), s.Pending())
	}
}

// 5 % of items answered 429 inside a 200: exactly one in twenty, and a
// client that re-sends only those converges.
func TestFailFraction(t *testing.T) {
	s := Start(t, Options{})
	s.SetItemRule(FailFraction(1, 20, Reject429))
	var body strings.Builder
	for i := range 1000 {
		body.WriteString(ndjson(`{"create":{"_index":"a","_id":"`+string(rune('a'+i%26))+strings.Repeat("x", i/26)+`"}}`, `{"n":1}`))
	}
	a := bulk(t, s, body.String())
	errs, its := items(t, a)
	rejected := 0
	for _, it := range its {
		if it.Status == 429 {
			rejected++
		}
	}
	if !errs || rejected != 50 || s.DocCount("a") != 950 {
		t.Fatalf("%d of %d rejected, %d stored", rejected, len(its), s.DocCount("a"))
	}
	s.SetItemRule(nil)
	a = bulk(t, s, body.String())
	if _, its := items(t, a); len(its) != 1000 || s.DocCount("a") != 1000 || s.Stats().Conflicts != 950 {
		t.Errorf("after the re-send: %d docs, %d conflicts", s.DocCount("a"), s.Stats().Conflicts)
	}
}

func TestConnectionFaults(t *testing.T) {
	s := Start(t, Options{})
	client := s.Client()
	post := func(ctx context.Context, id string) (*http.Response, error) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.URL+"/_bulk", strings.NewReader(ndjson(`{"create":{"_index":"a","_id":"`+id+`"}}`, `{}`)))
		req.Header.Set("Content-Type", "application/x-ndjson")
		return client.Do(req)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	s.Script(Fault{Reset: true}, Fault{ResetAfterApply: true})
	if _, err := post(ctx, "reset"); err == nil {
		t.Error("a reset connection gave an answer")
	}
	if s.DocCount("a") != 0 {
		t.Error("Reset applied the request")
	}
	if _, err := post(ctx, "lost"); err == nil {
		t.Error("a reset after apply gave an answer")
	}
	if _, ok := s.Document("a", "lost"); !ok {
		t.Error("ResetAfterApply did not apply the request")
	}

	s.Script(Fault{Hang: true})
	hctx, hcancel := context.WithTimeout(ctx, 200*time.Millisecond)
	_, err := post(hctx, "hung")
	hcancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("hung request: %v, want the client's deadline", err)
	}

	s.Script(Fault{Delay: 50 * time.Millisecond})
	resp, err := post(ctx, "slow")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("delayed request: %v", err)
	}
	resp.Body.Close()
	if _, ok := s.Document("a", "slow"); !ok {
		t.Error("a delayed request was not applied")
	}
}

// A request held by Hang is released by Close, so the server can stop.
func TestHangReleasedByClose(t *testing.T) {
	s := Start(t, Options{})
	s.Script(Fault{Hang: true})
	done := make(chan error, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodPost, s.URL+"/_bulk", strings.NewReader(ndjson(`{"index":{"_index":"a"}}`, `{}`)))
		req.Header.Set("Content-Type", "application/x-ndjson")
		resp, err := s.Client().Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	deadline := time.After(10 * time.Second)
	for s.Pending() != 0 {
		select {
		case <-deadline:
			t.Fatal("the hung request never reached the fake")
		case <-time.After(time.Millisecond):
		}
	}
	s.Close()
	select {
	case <-done:
	case <-deadline:
		t.Fatal("Close did not release the hung request")
	}
}

func TestCloseIndex(t *testing.T) {
	s := Start(t, Options{ClosedIndices: []string{"old"}})
	_, its := items(t, bulk(t, s, ndjson(`{"index":{"_index":"old"}}`, `{}`)))
	if its[0].Status != 400 || its[0].Error["type"] != "index_closed_exception" || its[0].Error["reason"] != "closed" {
		t.Errorf("closed index: %+v", its[0])
	}
	s.OpenIndex("old")
	s.CloseIndex("new")
	_, its = items(t, bulk(t, s, ndjson(`{"index":{"_index":"old"}}`, `{}`, `{"index":{"_index":"new"}}`, `{}`)))
	if its[0].Status != 201 || its[1].Status != 400 {
		t.Errorf("after open/close: %+v", its)
	}
}

func TestTLS(t *testing.T) {
	s := Start(t, Options{TLS: &tls.Config{}})
	if !strings.HasPrefix(s.URL, "https://") || s.Certificate() == nil {
		t.Fatalf("URL %s", s.URL)
	}
	if a := send(t, s, http.MethodGet, "/", nil); a.status != 200 {
		t.Errorf("GET / over TLS: %d", a.status)
	}
}

// Concurrent bulk requests creating overlapping ids: every id stored once,
// every other create a 409 (run with -race to check the locking).
func TestConcurrentBulks(t *testing.T) {
	s := Start(t, Options{})
	const workers, ids = 4, 50
	var body strings.Builder
	for i := range ids {
		body.WriteString(ndjson(`{"create":{"_index":"c","_id":"`+strings.Repeat("i", i+1)+`"}}`, `{"n":1}`))
	}
	done := make(chan struct{}, workers)
	for range workers {
		go func() {
			defer func() { done <- struct{}{} }()
			req, _ := http.NewRequest(http.MethodPost, s.URL+"/_bulk", strings.NewReader(body.String()))
			req.Header.Set("Content-Type", "application/x-ndjson")
			resp, err := s.Client().Do(req)
			if err != nil {
				t.Errorf("bulk: %v", err)
				return
			}
			resp.Body.Close()
		}()
	}
	for range workers {
		<-done
	}
	if st := s.Stats(); s.DocCount("c") != ids || st.Conflicts != (workers-1)*ids {
		t.Errorf("%d docs, %d conflicts", s.DocCount("c"), st.Conflicts)
	}
}
