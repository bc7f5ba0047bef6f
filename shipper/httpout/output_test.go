package httpout

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/capstan-agent/capstan/shipper/httpc"
)

func allBodies(parts, n int) map[string]bool {
	out := map[string]bool{}
	for p := range parts {
		for i := range n {
			out[body(p, i)] = true
		}
	}
	return out
}

func checkOnce(t *testing.T, taken map[string]int, want map[string]bool) {
	t.Helper()
	for b := range want {
		if taken[b] != 1 {
			t.Errorf("record %s taken %d times", b, taken[b])
		}
	}
	for b := range taken {
		if !want[b] {
			t.Errorf("record %s taken, but it should not have been", b)
		}
	}
}

// TestEncodings: every encoding, method and compression; headers and auth
// arrive; every record is taken once, in order within its request (with
// concurrency above 1, requests of a partition may arrive in any order).
func TestEncodings(t *testing.T) {
	token := filepath.Join(t.TempDir(), "token")
	os.WriteFile(token, []byte("s3cret\n"), 0o600)
	for _, tc := range []struct{ encoding, method, compression, contentType string }{
		{NDJSON, "POST", "none", "application/x-ndjson"},
		{NDJSON, "POST", "gzip", "application/x-ndjson"},
		{JSONArray, "PUT", "zstd", "application/json"},
		{Raw, "POST", "gzip", "text/plain; charset=utf-8"},
	} {
		t.Run(tc.encoding+"-"+tc.compression, func(t *testing.T) {
			srv := newServer(t, tc.encoding, nil)
			r := newRig(t, 2)
			r.add(0, 0, 500, 60)
			r.add(1, 0, 500, 60)
			_, stop := r.run(testConfig(srv.srv.URL+"/ingest", func(c *Config) {
				c.Encoding, c.Method, c.Compression = tc.encoding, tc.method, tc.compression
				c.Headers = map[string]string{"X-Source": "capstan-test"}
				c.Auth = &httpc.Auth{Bearer: &httpc.Bearer{TokenFile: token}}
				c.Batch.MaxRecords = 100
			}))
			waitFor(t, "both partitions committed", func() bool { return r.Committed(0) == 500 && r.Committed(1) == 500 })
			if err := stop(); err != nil {
				t.Fatal(err)
			}
			checkOnce(t, srv.taken(), allBodies(2, 500))
			for _, g := range srv.requests() {
				last := -1
				if g.method != tc.method || g.path != "/ingest" || g.header.Get("Content-Type") != tc.contentType ||
					g.header.Get("Authorization") != "Bearer s3cret" || g.header.Get("X-Source") != "capstan-test" {
					t.Fatalf("request %s %s %v", g.method, g.path, g.header)
				}
				for _, b := range g.bodies {
					var i int
					for _, c := range b[3:] {
						i = i*10 + int(c-'0')
					}
					if i < last {
						t.Errorf("in a request, %s after %d", b, last)
					}
					last = i
				}
			}
		})
	}
}

// TestPerTenant: a URL and a header from a record's field and a source
// attribute: requests are split by their values and carry only their
// records.
func TestPerTenant(t *testing.T) {
	srv := newServer(t, NDJSON, nil)
	r := newRig(t, 2)
	r.add(0, 0, 300, 40)
	r.add(1, 0, 300, 40)
	_, stop := r.run(testConfig(srv.srv.URL+"/t/${tenant}/push", func(c *Config) {
		c.Headers = map[string]string{"X-Scope-OrgID": "${k8s.namespace.name}-${tenant}"}
	}))
	waitFor(t, "both partitions committed", func() bool { return r.Committed(0) == 300 && r.Committed(1) == 300 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	checkOnce(t, srv.taken(), allBodies(2, 300))
	for _, g := range srv.requests() {
		for _, b := range g.bodies {
			var i int
			for _, c := range b[3:] {
				i = i*10 + int(c-'0')
			}
			if want := "/t/" + tenant(i) + "/push"; g.path != want {
				t.Errorf("%s sent to %s, want %s", b, g.path, want)
			}
			if want := "ns" + b[1:2] + "-" + tenant(i); g.header.Get("X-Scope-OrgID") != want {
				t.Errorf("%s sent with X-Scope-OrgID %q, want %q", b, g.header.Get("X-Scope-OrgID"), want)
			}
		}
	}
}

// TestAnswers: 408, 429 and 5xx with Retry-After and connection resets are
// sent again until taken; a 413 is split; 400 and 401 go to the dead
// letter with their reason and the server's words.
func TestAnswers(t *testing.T) {
	script := map[int]int{1: 503, 2: 429, 3: 0, 4: 408, 5: 500, 6: 400, 7: 413, 9: 401, 10: 502}
	srv := newServer(t, NDJSON, func(n int, g got) (int, http.Header) {
		if s, ok := script[n]; ok {
			return s, http.Header{"Retry-After": {"0"}}
		}
		return 200, nil
	})
	r := newRig(t, 1)
	r.add(0, 0, 400, 50)
	e, stop := r.run(testConfig(srv.srv.URL, func(c *Config) { c.Batch.MaxRecords, c.Concurrency = 40, 1 }))
	waitFor(t, "the partition committed", func() bool { return r.Committed(0) == 400 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	want := allBodies(1, 400)
	refused := map[string]string{}
	for i, g := range srv.requests() {
		if s := g.status; s == 400 || s == 401 {
			for _, b := range g.bodies {
				refused[b] = "http_" + map[int]string{400: "400", 401: "401"}[s]
				delete(want, b)
			}
		}
		if i == 7 && len(g.bodies) != 20 {
			t.Errorf("after the 413, a request of %d records, want half of 40", len(g.bodies))
		}
	}
	if len(refused) != 40+20 {
		t.Errorf("%d records refused, want 60 (a request of 40, and half of the one split)", len(refused))
	}
	checkOnce(t, srv.taken(), want)
	dead := r.DeadLetters()
	for b, reason := range refused {
		if d := dead[b]; d[0] != reason || !strings.Contains(d[1], "answer 4") {
			t.Errorf("%s: dead letter %q, want reason %s and the server's words", b, d, reason)
		}
	}
	if len(dead) != len(refused) {
		t.Errorf("%d dead letters, %d refused", len(dead), len(refused))
	}
	for _, reason := range []string{"http_503", "http_429", "http_408", "http_500", "http_502", "connection", "too_large"} {
		if e.Stats().Failures(reason) != 1 {
			t.Errorf("failures_total{%s} = %d, want 1", reason, e.Stats().Failures(reason))
		}
	}
}

// TestHangingDestination: a destination that never answers holds the stop
// no longer than drain_timeout; nothing is committed.
func TestHangingDestination(t *testing.T) {
	srv := newServer(t, NDJSON, func(int, got) (int, http.Header) { return -1, nil })
	r := newRig(t, 1)
	r.add(0, 0, 100, 10)
	_, stop := r.run(testConfig(srv.srv.URL, func(c *Config) { c.Timeout, c.DrainTimeout = time.Hour, 200*time.Millisecond }))
	waitFor(t, "a request under way", func() bool { return len(srv.requests()) > 0 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if c := r.Committed(0); c != 0 {
		t.Errorf("committed %d with no answer", c)
	}
}
