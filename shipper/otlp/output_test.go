package otlp

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/capstan-agent/capstan/shipper/otlp/otlptest"
)

// checkRecords checks every record the receiver got against what the rig
// wrote, and that each of the want bodies arrived (at least once, or
// exactly once with exact) and no other did, but those forwarded to the
// receiver by an exchange whose answer was lost.
func checkRecords(t *testing.T, got []otlptest.Record, want map[string]bool, exact bool, forwarded ...otlptest.Exchange) {
	t.Helper()
	seen := map[string]int{}
	uids := map[string]string{}
	for _, r := range got {
		b := r.Body.Str
		var p, i int
		if _, err := fmt.Sscanf(b, "p%d-%d", &p, &i); err != nil {
			t.Fatalf("unexpected record %s", r)
		}
		seen[b]++
		if r.TimeUnixNano != uint64(baseTime+int64(i)*1000) || r.ObservedTimeUnixNano == 0 {
			t.Errorf("%s: time %d observed %d", b, r.TimeUnixNano, r.ObservedTimeUnixNano)
		}
		if lv := levels[i%4]; r.SeverityText != lv || r.SeverityNumber != severityNames[lv] {
			t.Errorf("%s: severity %d/%q, want %d/%q", b, r.SeverityNumber, r.SeverityText, severityNames[lv], lv)
		}
		res := r.Resource.Attributes.Map()
		if res["log.file.path"] != fmt.Sprintf("Str(%q)", filePath(p)) || res["host.name"] != `Str("node-1")` {
			t.Errorf("%s: resource %s", b, r.Resource.Attributes)
		}
		if _, k8s := res["k8s.pod.name"]; k8s != (p%2 == 0) {
			t.Errorf("%s: resource %s", b, r.Resource.Attributes)
		}
		if n, _ := r.Attributes.Get("n"); n.Type != otlptest.TypeInt || n.Int != int64(i) {
			t.Errorf("%s: attribute n %s", b, n)
		}
		if r.Attributes.Str("input") != "app" {
			t.Errorf("%s: attributes %s", b, r.Attributes)
		}
		uid := r.Attributes.Str(AttrRecordUID)
		if prev, ok := uids[b]; ok && prev != uid {
			t.Errorf("%s: sent again with uid %s, first %s", b, uid, prev)
		}
		uids[b] = uid
	}
	byUID := map[string]string{}
	for b, u := range uids {
		if o, dup := byUID[u]; dup {
			t.Errorf("records %s and %s share uid %s", b, o, u)
		}
		byUID[u] = b
	}
	for b := range want {
		if seen[b] == 0 {
			t.Errorf("record %s never arrived", b)
		} else if exact && seen[b] > 1 {
			t.Errorf("record %s arrived %d times", b, seen[b])
		}
	}
	lost := map[string]bool{}
	for _, ex := range forwarded {
		if !ex.Acked {
			for _, r := range ex.Forwarded {
				lost[r.Body.Str] = true
			}
		}
	}
	for b := range seen {
		if !want[b] && !lost[b] {
			t.Errorf("record %s arrived, but it should not have", b)
		}
	}
}

func allBodies(parts, n int) map[string]bool {
	out := map[string]bool{}
	for p := range parts {
		for i := range n {
			out[body(p, i)] = true
		}
	}
	return out
}

// TestToTheCollector: every protocol, encoding and compression, into the
// Collector's own OTLP receiver; every record arrives once with its body,
// attributes, Resource, times and severity.
func TestToTheCollector(t *testing.T) {
	recv := otlptest.Start(t, otlptest.Options{})
	total := 0
	for _, tc := range []struct{ protocol, encoding, compression string }{
		{"http", "protobuf", "gzip"}, {"http", "protobuf", "none"}, {"http", "protobuf", "zstd"},
		{"http", "json", "gzip"}, {"http", "json", "none"},
		{"grpc", "protobuf", "gzip"}, {"grpc", "protobuf", "zstd"}, {"grpc", "protobuf", "none"},
	} {
		t.Run(tc.protocol+"-"+tc.encoding+"-"+tc.compression, func(t *testing.T) {
			r := newRig(t, 3)
			for p := range 3 {
				r.add(p, 0, 300, 70)
			}
			endpoint := "http://" + recv.HTTPAddr
			if tc.protocol == "grpc" {
				endpoint = "http://" + recv.GRPCAddr
			}
			_, stop := r.run(testConfig(endpoint, func(c *Config) {
				c.Protocol, c.Encoding, c.Compression = tc.protocol, tc.encoding, tc.compression
				c.Batch.MaxRecords = 128
				c.Headers = map[string]string{"X-API-Key": "k1"}
			}))
			total += 900
			got := recv.Wait(total, time.Minute)
			waitFor(t, "every partition committed", func() bool { return r.Committed(0) == 300 && r.Committed(1) == 300 && r.Committed(2) == 300 })
			if err := stop(); err != nil {
				t.Fatal(err)
			}
			checkRecords(t, got[total-900:], allBodies(3, 300), true)
			for _, req := range recv.Requests()[len(recv.Requests())-1:] {
				if h := req.Headers["x-api-key"]; len(h) != 1 || h[0] != "k1" {
					t.Errorf("headers %v", req.Headers)
				}
			}
		})
	}
}

// TestHTTPFailures: in front of the receiver, answers of every class. What
// OTLP says to retry is sent again until taken; nothing is sent again once
// acknowledged; what is refused goes to the dead letter with its reason.
func TestHTTPFailures(t *testing.T) {
	recv := otlptest.Start(t, otlptest.Options{NoGRPC: true})
	front := otlptest.NewHTTPFront(t, recv.HTTPAddr, otlptest.Sequence(
		otlptest.HTTPStatus(503, "1"), otlptest.HTTPStatus(429, ""), otlptest.HTTPReset(),
		otlptest.HTTPPartial(3, "timestamp too old"), otlptest.HTTPStatus(502, ""),
		otlptest.HTTPStatus(400, ""), otlptest.HTTPForwardThenReset(), otlptest.HTTPStatus(504, "0"),
		otlptest.HTTPPartial(1000, "all of them"),
	))
	r := newRig(t, 2)
	r.add(0, 0, 400, 50)
	r.add(1, 0, 400, 50)
	e, stop := r.run(testConfig(front.URL, func(c *Config) { c.Batch.MaxRecords = 40; c.Concurrency = 2 }))
	waitFor(t, "every partition committed", func() bool { return r.Committed(0) == 400 && r.Committed(1) == 400 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	exchanges := front.Exchanges()
	uid := func(r otlptest.Record) string { return r.Attributes.Str(AttrRecordUID) }
	if again := otlptest.SentAfterAck(exchanges, uid); len(again) > 0 {
		t.Errorf("%d records sent again after they were acknowledged (or rejected)", len(again))
	}
	want := allBodies(2, 400)
	rejected := map[string]string{} // body -> reason
	for _, ex := range exchanges {
		switch {
		case ex.Answer == otlptest.Fail && ex.Status == 400:
			for _, rec := range ex.Records {
				rejected[rec.Body.Str] = "http_400"
			}
		case ex.Answer == otlptest.Partial:
			for _, rec := range ex.Rejected {
				rejected[rec.Body.Str] = ReasonPartial
			}
		}
	}
	for b := range rejected {
		delete(want, b)
	}
	if len(rejected) < 40+3 {
		t.Fatalf("%d records rejected; the script rejects at least 43", len(rejected))
	}
	checkRecords(t, recv.Records(), want, false, exchanges...)
	dead := r.DeadLetters()
	if len(dead) != len(rejected) {
		t.Errorf("%d records in the dead letter, %d rejected", len(dead), len(rejected))
	}
	for b, reason := range rejected {
		d, ok := dead[b]
		switch {
		case !ok:
			t.Errorf("rejected record %s is not in the dead letter", b)
		case d[0] != reason:
			t.Errorf("%s: dead-letter reason %q, want %q", b, d[0], reason)
		case reason == ReasonPartial && !strings.Contains(d[1], "timestamp too old") && !strings.Contains(d[1], "all of them"):
			t.Errorf("%s: dead-letter message %q lacks the server's", b, d[1])
		case reason == "http_400" && !strings.Contains(d[1], "HTTP 400"):
			t.Errorf("%s: dead-letter message %q", b, d[1])
		}
	}
	st := e.Stats()
	for _, reason := range []string{"http_503", "http_429", "http_502", "http_504"} {
		if st.Failures(reason) != 1 {
			t.Errorf("failures_total{%s} = %d, want 1", reason, st.Failures(reason))
		}
	}
	if st.DeadLettered(ReasonPartial) == 0 || st.DeadLettered("http_400") != 40 {
		t.Errorf("dead letters: partial %d, http_400 %d", st.DeadLettered(ReasonPartial), st.DeadLettered("http_400"))
	}
}

// TestGRPCFailures: the gRPC codes OTLP retries, RESOURCE_EXHAUSTED with and
// without RetryInfo, a partial success, a refusal.
func TestGRPCFailures(t *testing.T) {
	recv := otlptest.Start(t, otlptest.Options{NoHTTP: true})
	front := otlptest.NewGRPCFront(t, recv.GRPCAddr, otlptest.Sequence(
		otlptest.GRPCError(codes.Unavailable, "down"),
		otlptest.GRPCErrorRetryInfo(codes.ResourceExhausted, "slow down", 50*time.Millisecond),
		otlptest.GRPCError(codes.ResourceExhausted, "over quota"),
		otlptest.GRPCPartial(2, "bad attribute"),
		otlptest.GRPCError(codes.Aborted, "again"),
		otlptest.GRPCError(codes.InvalidArgument, "malformed"),
		otlptest.GRPCForwardThenFail(codes.Unavailable, "lost answer"),
	))
	r := newRig(t, 1)
	r.add(0, 0, 300, 30)
	e, stop := r.run(testConfig("http://"+front.Addr, func(c *Config) {
		c.Protocol, c.Batch.MaxRecords, c.Concurrency, c.Compression = "grpc", 30, 1, "zstd"
	}))
	waitFor(t, "the partition committed", func() bool { return r.Committed(0) == 300 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	exchanges := front.Exchanges()
	if again := otlptest.SentAfterAck(exchanges, func(r otlptest.Record) string { return r.Attributes.Str(AttrRecordUID) }); len(again) > 0 {
		t.Errorf("%d records sent again after they were acknowledged", len(again))
	}
	want := allBodies(1, 300)
	rejected := map[string]string{}
	for _, ex := range exchanges {
		switch {
		case ex.Answer == otlptest.Fail && ex.Code == codes.ResourceExhausted && ex.N == 3:
			for _, rec := range ex.Records {
				rejected[rec.Body.Str] = "grpc_resource_exhausted"
			}
		case ex.Answer == otlptest.Fail && ex.Code == codes.InvalidArgument:
			for _, rec := range ex.Records {
				rejected[rec.Body.Str] = "grpc_invalid_argument"
			}
		case ex.Answer == otlptest.Partial:
			for _, rec := range ex.Rejected {
				rejected[rec.Body.Str] = ReasonPartial
			}
		}
	}
	if len(rejected) != 30+30+2 {
		t.Fatalf("%d rejected, want 62", len(rejected))
	}
	for b := range rejected {
		delete(want, b)
	}
	checkRecords(t, recv.Records(), want, false, exchanges...)
	dead := r.DeadLetters()
	for b, reason := range rejected {
		if dead[b][0] != reason {
			t.Errorf("%s: dead letter %q, want reason %q", b, dead[b], reason)
		}
	}
	if len(dead) != len(rejected) {
		t.Errorf("%d dead letters, %d rejected", len(dead), len(rejected))
	}
	for _, reason := range []string{"grpc_unavailable", "grpc_resource_exhausted", "grpc_aborted"} {
		if n := e.Stats().Failures(reason); n == 0 {
			t.Errorf("failures_total{%s} = 0", reason)
		}
	}
}

// TestHangingDestination: a destination that never answers holds the
// output's stop no longer than drain_timeout (the guard of run is 30s; the
// request timeout is an hour); nothing is committed, so it all goes again.
func TestHangingDestination(t *testing.T) {
	for _, protocol := range []string{"http", "grpc"} {
		t.Run(protocol, func(t *testing.T) {
			var endpoint string
			var under func() int
			if protocol == "http" {
				f := otlptest.NewHTTPFront(t, "127.0.0.1:1", func(otlptest.Seen) otlptest.HTTPAnswer { return otlptest.HTTPHang() })
				endpoint, under = f.URL, func() int { return len(f.Exchanges()) }
			} else {
				f := otlptest.NewGRPCFront(t, "127.0.0.1:1", func(otlptest.Seen) otlptest.GRPCAnswer { return otlptest.GRPCHang() })
				endpoint, under = "http://"+f.Addr, func() int { return len(f.Exchanges()) }
			}
			r := newRig(t, 1)
			r.add(0, 0, 100, 10)
			_, stop := r.run(testConfig(endpoint, func(c *Config) {
				c.Protocol, c.Timeout, c.DrainTimeout = protocol, time.Hour, 200*time.Millisecond
			}))
			waitFor(t, "a request under way", func() bool { return under() > 0 })
			if err := stop(); err != nil {
				t.Fatal(err)
			}
			if c := r.Committed(0); c != 0 {
				t.Errorf("committed %d with no answer", c)
			}
		})
	}
}
