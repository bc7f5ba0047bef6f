package elasticsearch

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/capstan-agent/capstan/component/tlsconf"
	"github.com/capstan-agent/capstan/shipper/elasticsearch/esfake"
	"github.com/capstan-agent/capstan/shipper/httpc"
	"github.com/capstan-agent/capstan/spool/batch"
)

const index = "logs-2023.11.14"

// TestDeliversOnceAndReplaysAre409: every record is a document, and the
// same records sent again by a second run from offset 0 (a lost checkpoint,
// another core) are all 409s: the index still holds each once.
func TestDeliversOnceAndReplaysAre409(t *testing.T) {
	f := esfake.Start(t, esfake.Options{})
	r := newRig(t, 2)
	r.add(0, 0, 500, 100)
	r.add(1, 0, 300, 50)
	_, stop := r.run(testConfig(f.URL, nil))
	waitFor(t, "800 documents", func() bool { return f.DocCount(index) == 800 })
	waitFor(t, "the checkpoints past every record", func() bool { return r.Committed(0) == 500 && r.Committed(1) == 300 })
	stop()

	// The same source batches in another spool, at other offsets (a core
	// that an edge failed over to, a spool replayed): every create is a 409.
	r2 := newRig(t, 2)
	var fill batch.Builder
	fill.ResetV2(77, baseTime, nil)
	fill.Add(baseTime, []byte("filler"))
	fill.SetSequence(1)
	for p := range 2 {
		if _, err := r2.Stream.Partition(p).Append(context.Background(), fill.Bytes()); err != nil {
			t.Fatal(err)
		}
	}
	r2.add(0, 0, 500, 100)
	r2.add(1, 0, 300, 50)
	e, stop := r2.run(testConfig(f.URL, func(c *Config) { c.Batch.MaxRecords = 77 }))
	waitFor(t, "the second spool's checkpoints", func() bool { return r2.Committed(0) == 501 && r2.Committed(1) == 301 })
	stop()
	if n := e.Stats().Duplicates.Load(); n != 801 {
		t.Errorf("%d duplicates avoided, want 801 (800 records and the filler's second copy)", n)
	}
	if n := f.DocCount(index); n != 801 {
		t.Errorf("%d documents after the replay, want 801", n)
	}
	got := messages(t, f, index)
	for p, n := range []int{500, 300} {
		for i := range n {
			if got[body(p, i)] != 1 {
				t.Errorf("%s: %d documents", body(p, i), got[body(p, i)])
			}
		}
	}
	if st := f.Stats(); st.Conflicts != 801 {
		t.Errorf("%d conflicts, want 801", st.Conflicts)
	}
}

// TestDocumentShape: the document the fake stores for a record.
func TestDocumentShape(t *testing.T) {
	f := esfake.Start(t, esfake.Options{})
	r := newRig(t, 1)
	r.add(0, 0, 1, 1)
	r.run(testConfig(f.URL, nil))
	waitFor(t, "the document", func() bool { return f.DocCount(index) == 1 })
	d := f.Documents(index)[0]
	var got map[string]any
	json.Unmarshal(d.Source, &got)
	want := map[string]any{"@timestamp": "2023-11-14T22:13:20Z", "message": "p0-0", "level": "info", "n": 0.0,
		"host.name": "node-1", "log.file.path": "/logs/p0.log"}
	if len(got) != len(want) {
		t.Errorf("document %s, want %v", d.Source, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v (%s)", k, got[k], v, d.Source)
		}
	}
	if len(d.ID) != 26 {
		t.Errorf("_id %q: want a ULID", d.ID)
	}
}

// TestItemAnswers: a 200 with errors: true is read item by item.
func TestItemAnswers(t *testing.T) {
	for _, tc := range []struct {
		name      string
		fault     esfake.ItemFault
		retried   bool   // the item is sent again and lands
		deadLabel string // or it is dead-lettered with this reason
		detail    string
	}{
		{"429 retried", esfake.Reject429, true, "", ""},
		{"503 retried", esfake.Unavailable503, true, "", ""},
		{"500 retried", esfake.Internal500, true, "", ""},
		{"mapping error dead-lettered", esfake.MappingError400, false, "document_parsing_exception", "status 400 document_parsing_exception"},
		{"closed index dead-lettered", esfake.IndexClosed400, false, "index_closed_exception", "status 400 index_closed_exception: closed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := esfake.Start(t, esfake.Options{})
			f.Script(esfake.Fault{Items: map[int]esfake.ItemFault{3: tc.fault, 7: tc.fault}})
			r := newRig(t, 1)
			r.add(0, 0, 10, 10)
			e, stop := r.run(testConfig(f.URL, nil))
			want := int64(10)
			if !tc.retried {
				want = 8
			}
			waitFor(t, "the checkpoint past the 10 records", func() bool { return r.Committed(0) == 10 })
			stop()
			if n := f.DocCount(index); n != want {
				t.Errorf("%d documents, want %d", n, want)
			}
			dl := r.DeadLetters()
			if tc.retried {
				if len(dl) != 0 || e.Stats().Retries.Load() == 0 {
					t.Errorf("dead letters %v, retries %d", dl, e.Stats().Retries.Load())
				}
				return
			}
			for _, i := range []int{3, 7} {
				v := dl[body(0, i)]
				if v[0] != tc.deadLabel || !strings.Contains(v[1], tc.detail) {
					t.Errorf("%s dead-lettered as %q %q, want %q %q", body(0, i), v[0], v[1], tc.deadLabel, tc.detail)
				}
			}
			if got := e.Stats().DeadLettered(tc.deadLabel); got != 2 {
				t.Errorf("dead_letter_records_total{%s} = %d", tc.deadLabel, got)
			}
		})
	}
}

// TestFivePercent429: 5 % of items answered 429 inside a 200, every
// request: nothing lost, nothing stored twice, nothing sent again that
// the node took (only 409s would show it).
func TestFivePercent429(t *testing.T) {
	f := esfake.Start(t, esfake.Options{})
	f.SetItemRule(esfake.FailFraction(1, 20, esfake.Reject429))
	r := newRig(t, 2)
	r.add(0, 0, 5000, 500)
	r.add(1, 0, 5000, 250)
	e, stop := r.run(testConfig(f.URL, func(c *Config) { c.Batch.MaxRecords = 1000 }))
	waitFor(t, "the checkpoints past every record", func() bool { return r.Committed(0) == 5000 && r.Committed(1) == 5000 })
	stop()
	st := f.Stats()
	if n := f.DocCount(index); n != 10000 {
		t.Errorf("%d documents, want 10000", n)
	}
	if st.Conflicts != 0 || e.Stats().Duplicates.Load() != 0 {
		t.Errorf("%d conflicts: a record the node took was sent again", st.Conflicts)
	}
	if st.ItemsByStatus[429] < 400 {
		t.Errorf("%d items answered 429: the rule did not apply", st.ItemsByStatus[429])
	}
	for p := range 2 {
		got := messages(t, f, index)
		for i := range 5000 {
			if got[body(p, i)] != 1 {
				t.Fatalf("%s: %d documents", body(p, i), got[body(p, i)])
			}
		}
	}
	t.Logf("%d items, %d answered 429, %d requests", st.Items, st.ItemsByStatus[429], st.Requests)
}

// TestLargeAnswer: a bulk of 20,000 items whose answer is big (every item
// refused with a long reason, then accepted): the whole answer is read,
// nothing is sent twice.
func TestLargeAnswer(t *testing.T) {
	f := esfake.Start(t, esfake.Options{})
	items := map[int]esfake.ItemFault{}
	for i := range 20000 {
		items[i] = esfake.Reject429
	}
	f.Script(esfake.Fault{Items: items})
	r := newRig(t, 1)
	r.add(0, 0, 20000, 1000)
	_, stop := r.run(testConfig(f.URL, func(c *Config) { c.Batch.MaxRecords, c.Batch.MaxBytes = 20000, 64<<20 }))
	waitFor(t, "the checkpoint past every record", func() bool { return r.Committed(0) == 20000 })
	stop()
	st := f.Stats()
	if n := f.DocCount(index); n != 20000 || st.Conflicts != 0 {
		t.Errorf("%d documents, %d conflicts; want 20000, 0", n, st.Conflicts)
	}
	if st.Created != 20000 || st.ItemsByStatus[429] != 20000 {
		t.Errorf("created %d, 429s %d", st.Created, st.ItemsByStatus[429])
	}
}

// TestWholeRequestAnswers: statuses of the whole request.
func TestWholeRequestAnswers(t *testing.T) {
	for _, tc := range []struct {
		name   string
		fault  esfake.Fault
		reason string // failures_total label
	}{
		{"429 retried", esfake.Fault{Status: 429}, "http_429"},
		{"503 retried", esfake.Fault{Status: 503}, "http_503"},
		{"reset before", esfake.Fault{Reset: true}, "connection"},
		{"reset after the writes: 409s", esfake.Fault{ResetAfterApply: true}, "connection"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := esfake.Start(t, esfake.Options{})
			f.Script(tc.fault)
			r := newRig(t, 1)
			r.add(0, 0, 100, 100)
			e, stop := r.run(testConfig(f.URL, nil))
			waitFor(t, "the checkpoint past the 100 records", func() bool { return r.Committed(0) == 100 })
			stop()
			if n := f.DocCount(index); n != 100 {
				t.Errorf("%d documents", n)
			}
			if e.Stats().Failures(tc.reason) == 0 {
				t.Errorf("no failure %s counted", tc.reason)
			}
			if tc.fault.ResetAfterApply && e.Stats().Duplicates.Load() != 100 {
				t.Errorf("%d duplicates avoided, want 100", e.Stats().Duplicates.Load())
			}
		})
	}
}

// TestTooLargeIsSplit: a 413 (over http.max_content_length) splits the
// request until its halves fit.
func TestTooLargeIsSplit(t *testing.T) {
	f := esfake.Start(t, esfake.Options{MaxContentLength: 40 << 10})
	r := newRig(t, 1)
	r.add(0, 0, 2000, 500)
	e, stop := r.run(testConfig(f.URL, func(c *Config) { c.Batch.MaxRecords, c.Batch.MaxBytes = 2000, 8<<20 }))
	waitFor(t, "the checkpoint past every record", func() bool { return r.Committed(0) == 2000 })
	stop()
	if n, st := f.DocCount(index), f.Stats(); n != 2000 || st.Conflicts != 0 || st.RequestsByStatus[413] == 0 {
		t.Errorf("%d documents, %d conflicts, %d 413s", n, st.Conflicts, st.RequestsByStatus[413])
	}
	if e.Stats().Failures("too_large") == 0 {
		t.Error("no too_large counted")
	}
}

// TestFailover: the first endpoint refuses connections; requests go to
// the second.
func TestFailover(t *testing.T) {
	f := esfake.Start(t, esfake.Options{})
	dead := esfake.Start(t, esfake.Options{})
	deadURL := dead.URL
	dead.Close()
	r := newRig(t, 1)
	r.add(0, 0, 100, 10)
	e, stop := r.run(testConfig(deadURL, func(c *Config) { c.Endpoints = append(c.Endpoints, f.URL) }))
	waitFor(t, "the checkpoint past the records", func() bool { return r.Committed(0) == 100 })
	stop()
	if n := f.DocCount(index); n != 100 || e.Stats().Failures("connect") == 0 {
		t.Errorf("%d documents on the second node, %d connect failures", n, e.Stats().Failures("connect"))
	}
}

// TestAuthAndTLS: basic, API key and bearer against a secured node, over
// TLS with a client certificate; OpenSearch too.
func TestAuthAndTLS(t *testing.T) {
	dir := t.TempDir()
	apiKey := base64.StdEncoding.EncodeToString([]byte("kid:ksecret"))
	keyFile := filepath.Join(dir, "key")
	os.WriteFile(keyFile, []byte(apiKey+"\n"), 0o600)
	for _, tc := range []struct {
		name   string
		opts   esfake.Options
		auth   *Auth
		denied bool
	}{
		{"basic", esfake.Options{Users: map[string]string{"elastic": "pw"}}, &Auth{Basic: &httpc.Basic{User: "elastic", Password: "pw"}}, false},
		{"api key from a file", esfake.Options{APIKeys: map[string]string{"kid": "ksecret"}}, &Auth{APIKey: &APIKey{KeyFile: keyFile}}, false},
		{"bearer", esfake.Options{BearerTokens: []string{"tok"}}, &Auth{Bearer: &httpc.Bearer{Token: "tok"}}, false},
		{"opensearch basic", esfake.Options{Flavor: esfake.OpenSearch, Users: map[string]string{"admin": "pw"}}, &Auth{Basic: &httpc.Basic{User: "admin", Password: "pw"}}, false},
		{"wrong password", esfake.Options{Users: map[string]string{"elastic": "pw"}}, &Auth{Basic: &httpc.Basic{User: "elastic", Password: "no"}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := esfake.Start(t, tc.opts)
			r := newRig(t, 1)
			r.add(0, 0, 20, 20)
			e, stop := r.run(testConfig(f.URL, func(c *Config) { c.Auth = tc.auth }))
			waitFor(t, "the checkpoint past the records", func() bool { return r.Committed(0) == 20 })
			stop()
			if tc.denied {
				if n := e.Stats().DeadLettered("http_401"); n != 20 || f.DocCount(index) != 0 {
					t.Errorf("denied: %d dead-lettered http_401, %d documents", n, f.DocCount(index))
				}
				return
			}
			if n := f.DocCount(index); n != 20 {
				t.Errorf("%d documents", n)
			}
		})
	}
	t.Run("mtls", func(t *testing.T) {
		ca, cert, key := writeTLS(t, dir)
		pool := x509.NewCertPool()
		pem, _ := os.ReadFile(ca)
		pool.AppendCertsFromPEM(pem)
		srvCert, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			t.Fatal(err)
		}
		f := esfake.Start(t, esfake.Options{TLS: &tls.Config{Certificates: []tls.Certificate{srvCert}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool}})
		r := newRig(t, 1)
		r.add(0, 0, 20, 20)
		_, stop := r.run(testConfig(f.URL, func(c *Config) {
			c.TLS = &tlsconf.Client{CAFile: ca, CertFile: cert, KeyFile: key, MinVersion: "1.2"}
		}))
		waitFor(t, "the checkpoint past the records", func() bool { return r.Committed(0) == 20 })
		stop()
		if n := f.DocCount(index); n != 20 {
			t.Errorf("%d documents over mTLS", n)
		}
	})
}

// TestIndexTemplates: a data stream takes the creates; a record without
// the field its index needs is dead-lettered with the field's name; a
// user's _id field is the document's id.
func TestIndexTemplates(t *testing.T) {
	t.Run("data stream", func(t *testing.T) {
		f := esfake.Start(t, esfake.Options{DataStreams: []string{"logs-*-*"}})
		r := newRig(t, 1)
		r.add(0, 0, 50, 10)
		_, stop := r.run(testConfig(f.URL, func(c *Config) { c.Index = "logs-app-default" }))
		waitFor(t, "the checkpoint past the records", func() bool { return r.Committed(0) == 50 })
		stop()
		if n := f.DocCount("logs-app-default"); n != 50 {
			t.Errorf("%d documents in the data stream", n)
		}
	})
	t.Run("missing field", func(t *testing.T) {
		f := esfake.Start(t, esfake.Options{})
		r := newRig(t, 1)
		r.add(0, 0, 5, 5)
		e, stop := r.run(testConfig(f.URL, func(c *Config) { c.Index = "logs-${team}" }))
		waitFor(t, "the checkpoint past the records", func() bool { return r.Committed(0) == 5 })
		stop()
		dl := r.DeadLetters()
		if v := dl[body(0, 0)]; v[0] != "encode" || !strings.Contains(v[1], `no field "team"`) {
			t.Errorf("dead letter %q %q", v[0], v[1])
		}
		if e.Stats().DeadLettered("encode") != 5 || len(f.Indices()) != 0 {
			t.Errorf("%d dead-lettered, indices %v", e.Stats().DeadLettered("encode"), f.Indices())
		}
	})
	t.Run("field with a default", func(t *testing.T) {
		f := esfake.Start(t, esfake.Options{})
		r := newRig(t, 1)
		r.add(0, 0, 5, 5)
		_, stop := r.run(testConfig(f.URL, func(c *Config) { c.Index = "logs-${team:-none}-${level}" }))
		waitFor(t, "the checkpoint past the records", func() bool { return r.Committed(0) == 5 })
		stop()
		if n := f.DocCount("logs-none-info"); n != 5 {
			t.Errorf("%d documents in logs-none-info; indices %v", n, f.Indices())
		}
	})
	t.Run("id_field", func(t *testing.T) {
		f := esfake.Start(t, esfake.Options{})
		r := newRig(t, 1)
		r.add(0, 0, 5, 5)
		_, stop := r.run(testConfig(f.URL, func(c *Config) { c.IDField = "n" }))
		waitFor(t, "the checkpoint past the records", func() bool { return r.Committed(0) == 5 })
		stop()
		for i := range 5 {
			if _, ok := f.Document(index, strconv.Itoa(i)); !ok {
				t.Errorf("no document of _id %d", i)
			}
		}
	})
}

// TestFailoverOn503: a node answering 503 (a proxy without a node behind
// it) passes the next requests to the next endpoint (one in flight at a
// time here: those in flight when it answered go on where they are).
func TestFailoverOn503(t *testing.T) {
	a := esfake.Start(t, esfake.Options{})
	b := esfake.Start(t, esfake.Options{})
	a.Script(esfake.Fault{Status: 503})
	r := newRig(t, 1)
	r.add(0, 0, 100, 10)
	e, stop := r.run(testConfig(a.URL, func(c *Config) { c.Endpoints = append(c.Endpoints, b.URL); c.Batch.MaxRecords, c.Concurrency = 10, 1 }))
	waitFor(t, "the checkpoint past the records", func() bool { return r.Committed(0) == 100 })
	stop()
	if na, nb := a.DocCount(index), b.DocCount(index); na != 0 || nb != 100 || e.Stats().Failures("http_503") != 1 {
		t.Errorf("documents %d on the first node, %d on the second; %d 503s", na, nb, e.Stats().Failures("http_503"))
	}
}
