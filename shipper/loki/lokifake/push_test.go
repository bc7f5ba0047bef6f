package lokifake

import (
	"bytes"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/snappy"
	"google.golang.org/protobuf/encoding/protowire"
)

var now = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

func clock() time.Time { return now }

func TestPushProtobuf(t *testing.T) {
	s := Start(t, Options{Now: clock})
	a := push(t, s,
		strm(`{ns="y", app="x"}`, entry(now.Add(-time.Second), "one", LabelPair{"trace_id", "abc"}), entry(now.Add(-2*time.Second), "zero")),
		strm(`{app="z"}`, entry(now, "other")),
	)
	if a.status != 204 || a.body != "" {
		t.Fatalf("answer %d %q", a.status, a.body)
	}
	got := s.Entries("fake", `{app="x",ns="y"}`)
	want := []Entry{entry(now.Add(-2*time.Second), "zero"), entry(now.Add(-time.Second), "one", LabelPair{"trace_id", "abc"})}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("entries %v, want %v", got, want)
	}
	if streams := s.Streams("fake"); !slices.Equal(streams, []string{`{app="x", ns="y"}`, `{app="z"}`}) {
		t.Errorf("streams %q", streams)
	}
	st := s.Stats()
	if st.Received != 3 || st.Stored != 3 || st.Streams[StreamKey{"fake", `{app="z"}`}] != 1 || st.BytesDecoded == 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestPushJSON(t *testing.T) {
	s := Start(t, Options{Now: clock})
	body := fmt.Sprintf(`{"streams":[{"stream":{"app":"x","empty":""},"values":[["%d","one"],["%d","two",{"trace_id":"abc","user":"u"}]]}]}`,
		now.UnixNano(), now.Add(time.Millisecond).UnixNano())
	if a := post(t, s, []byte(body), "Content-Type", "application/json"); a.status != 204 {
		t.Fatalf("JSON: %d %q", a.status, a.body)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	fmt.Fprintf(zw, `{"streams":[{"stream":{"app":"x"},"values":[["%d","three"]]}]}`, now.Add(2*time.Millisecond).UnixNano())
	zw.Close()
	if a := post(t, s, gz.Bytes(), "Content-Type", "application/json; charset=utf-8", "Content-Encoding", "gzip"); a.status != 204 {
		t.Fatalf("gzip JSON: %d %q", a.status, a.body)
	}
	got := s.Entries("fake", `{app="x"}`)
	if len(got) != 3 || got[1].Line != "two" || fmt.Sprint(got[1].StructuredMetadata) != "[{trace_id abc} {user u}]" || got[2].Line != "three" {
		t.Errorf("entries %+v", got)
	}
}

// Bodies Loki cannot take are refused whole, with its message.
func TestPushBodyErrors(t *testing.T) {
	s := Start(t, Options{Now: clock, MaxRequestBytes: 1000, MaxDecompressedBytes: 2000})
	good := snappy.Encode(nil, encodePush(strm(`{app="x"}`, entry(now, "l"))))
	big := snappy.Encode(nil, encodePush(strm(`{app="x"}`, entry(now, strings.Repeat("x", 3000)))))
	random := make([]byte, 1200)
	for i := range random {
		random[i] = byte(i * 7919 >> 3)
	}
	for _, tc := range []struct {
		name   string
		body   []byte
		hdr    []string
		status int
		want   string
	}{
		{"no content type", good, []string{"Content-Type", ""}, 400, "mime: no media type"},
		{"unknown encoding", good, []string{"Content-Encoding", "zstd"}, 400, `Content-Encoding "zstd" not supported`},
		{"not snappy", []byte("hello, world"), nil, 400, "snappy: corrupt input"},
		{"framed snappy", append([]byte("\xff\x06\x00\x00sNaPpY"), good...), nil, 400, "snappy: corrupt input"},
		{"not protobuf", snappy.Encode(nil, []byte{0x0a, 0x05, 0x01}), nil, 400, "proto: PushRequest.streams: unexpected EOF"},
		{"wrong wire type", snappy.Encode(nil, []byte{0x08, 0x01}), nil, 400, "proto: PushRequest: wrong wireType = 0 for field 1"},
		{"bad nanos", snappy.Encode(nil, badNanos()), nil, 400, "proto: PushRequest.streams[0].entries[0].timestamp: timestamp: seconds:0 nanos:1000000000: nanos not in range [0, 1e9)"},
		{"too large", random, nil, 413, "message size too large than max (1200 vs 1000)"},
		{"too large decompressed", big, nil, 400, "decompressed message size too large than max (3030 vs 2000)"},
		{"bad JSON", []byte(`{"streams":[{"stream":{"app":1}}]}`), []string{"Content-Type", "application/json"}, 400, "decode JSON push request: json: cannot unmarshal number into Go struct field .streams.stream of type string"},
		{"JSON timestamp not a string", []byte(`{"streams":[{"stream":{"app":"x"},"values":[[1,"l"]]}]}`), []string{"Content-Type", "application/json"}, 400, "decode JSON push request: streams[0].values[0]: the timestamp must be a string of Unix nanoseconds, got 1"},
		{"JSON value too short", []byte(`{"streams":[{"stream":{"app":"x"},"values":[["1"]]}]}`), []string{"Content-Type", "application/json"}, 400, "decode JSON push request: streams[0].values[0]: a value must be [timestamp, line] or [timestamp, line, structured metadata], got 1 elements"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := post(t, s, tc.body, tc.hdr...)
			if a.status != tc.status || a.body != tc.want+"\n" {
				t.Errorf("answer %d %q\nwant   %d %q", a.status, a.body, tc.status, tc.want+"\n")
			}
			if a.header.Get("Content-Type") != "text/plain; charset=utf-8" {
				t.Errorf("Content-Type %q", a.header.Get("Content-Type"))
			}
		})
	}
	if st := s.Stats(); st.Stored != 0 {
		t.Errorf("refused bodies stored %d entries", st.Stored)
	}
}

// badNanos is a push whose one entry has nanos = 1e9.
func badNanos() []byte {
	ts := protowire.AppendVarint(protowire.AppendTag(nil, 2, protowire.VarintType), 1e9)
	e := protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), ts)
	s := protowire.AppendBytes(protowire.AppendTag(nil, 2, protowire.BytesType), e)
	return protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), s)
}

// Entries and streams Loki refuses get a 400 naming them; the valid rest
// of the push is stored (Loki's partial semantics).
func TestPushValidation(t *testing.T) {
	s := Start(t, Options{Now: clock, Limits: Limits{MaxLineSize: 10, MaxLabelNamesPerSeries: 3, MaxLabelNameLength: 8, MaxLabelValueLength: 8, MaxStructuredMetadataSize: 10, MaxStructuredMetadataEntries: 2}})
	ok := entry(now, "ok")
	for i, tc := range []struct {
		name, labels string
		e            Entry
		reason, want string
	}{
		{"bad syntax", `{app="x"`, ok, "invalid_labels", `Error parsing labels '{app="x"' with error: 1:9: parse error: unexpected end of input inside braces`},
		{"bad label name", `{app-name="x"}`, ok, "invalid_labels", `Error parsing labels '{app-name="x"}' with error: 1:5: parse error: unexpected "-" in label set, expected "="`},
		{"no labels", `{}`, ok, "missing_labels", "error at least one label pair is required per stream"},
		{"only empty values", `{app=""}`, ok, "missing_labels", "error at least one label pair is required per stream"},
		{"too many labels", `{a="1",b="2",c="3",d="4"}`, ok, "max_label_names_per_series", `entry for stream '{a="1",b="2",c="3",d="4"}' has 4 label names; limit 3`},
		{"long name", `{abcdefghi="1"}`, ok, "label_name_too_long", `stream '{abcdefghi="1"}' has label name too long: 'abcdefghi'`},
		{"long value", `{a="123456789"}`, ok, "label_value_too_long", `stream '{a="123456789"}' has label value too long: '123456789'`},
		{"duplicate name", `{a="1", a="2"}`, ok, "duplicate_label_names", `stream '{a="1", a="2"}' has duplicate label name: 'a'`},
		{"long line", `{app="x"}`, entry(now, "12345678901"), "line_too_long", `Max entry size '10' bytes exceeded for stream '{app="x"}' while adding an entry with length '11' bytes`},
		{"too old", `{app="x"}`, entry(now.Add(-169*time.Hour), "old"), "greater_than_max_sample_age", `entry for stream '{app="x"}' has timestamp too old: 2024-04-24T11:00:00Z, oldest acceptable timestamp is: 2024-04-24T12:00:00Z`},
		{"too new", `{app="x"}`, entry(now.Add(11*time.Minute), "new"), "too_far_in_future", `entry for stream '{app="x"}' has timestamp too new: 2024-05-01T12:11:00Z`},
		{"metadata too large", `{app="x"}`, entry(now, "m", LabelPair{"trace", "0123456789"}), "structured_metadata_too_large", "stream '{app=\"x\"}' has structured metadata too large: '15' bytes, limit: '10' bytes. Please see `limits_config.max_structured_metadata_size` or contact your Loki administrator to increase it."},
		{"metadata too many", `{app="x"}`, entry(now, "m", LabelPair{"a", "1"}, LabelPair{"b", "2"}, LabelPair{"c", "3"}), "structured_metadata_too_many", "stream '{app=\"x\"}' has too many structured metadata labels: '3', limit: '2'. Please see `limits_config.max_structured_metadata_entries_count` or contact your Loki administrator to increase it."},
	} {
		valid := entry(now, fmt.Sprint("v", i))
		t.Run(tc.name, func(t *testing.T) {
			before := s.Stats()
			a := push(t, s, strm(tc.labels, tc.e), strm(`{app="good"}`, valid))
			if a.status != 400 || a.body != tc.want+"\n" {
				t.Errorf("answer %d %q\nwant   400 %q", a.status, a.body, tc.want+"\n")
			}
			after := s.Stats()
			if after.Refused[tc.reason] != before.Refused[tc.reason]+1 {
				t.Errorf("refused[%s] %d → %d", tc.reason, before.Refused[tc.reason], after.Refused[tc.reason])
			}
			if after.Stored != before.Stored+1 {
				t.Errorf("the valid stream beside it was not stored")
			}
		})
	}
	s2 := Start(t, Options{Now: clock, Limits: Limits{DisallowStructuredMetadata: true, AcceptOldSamples: true}})
	if a := push(t, s2, strm(`{app="x"}`, entry(now, "m", LabelPair{"a", "1"}), entry(now.Add(-1000*time.Hour), "ancient"))); a.status != 400 ||
		a.body != "stream '{app=\"x\"}' includes structured metadata, but this feature is disallowed. Please see `limits_config.allow_structured_metadata` or contact your Loki administrator to enable it.\n" {
		t.Errorf("disallowed structured metadata: %d %q", a.status, a.body)
	}
	if n := s2.Count("fake", `{app="x"}`); n != 1 {
		t.Errorf("with reject_old_samples off the old entry was not stored: %d", n)
	}
}

// Several refusals in one push: the first ones, once each, one per line.
func TestPushValidationNamesFirstFailures(t *testing.T) {
	s := Start(t, Options{Now: clock, MaxReturnedErrors: 2, Limits: Limits{MaxLineSize: 3}})
	a := push(t, s, strm(`{app="x"}`, entry(now, "long1"), entry(now, "long2"), entry(now, "ok"), entry(now, "longer")), strm(`{}`, entry(now, "x")))
	want := "Max entry size '3' bytes exceeded for stream '{app=\"x\"}' while adding an entry with length '5' bytes\n" +
		"Max entry size '3' bytes exceeded for stream '{app=\"x\"}' while adding an entry with length '6' bytes\n"
	if a.status != 400 || a.body != want {
		t.Errorf("answer %d %q\nwant   %q", a.status, a.body, want)
	}
	if s.Count("fake", `{app="x"}`) != 1 {
		t.Error("the valid entry was not stored")
	}
}

func TestOutOfOrderWindow(t *testing.T) {
	s := Start(t, Options{Now: clock, OutOfOrderWindow: 10 * time.Second})
	newest := now.Add(-time.Minute)
	if a := push(t, s, strm(`{app="x"}`, entry(newest, "newest"), entry(newest.Add(-10*time.Second), "at the edge"), entry(newest.Add(-3*time.Second), "within"))); a.status != 204 {
		t.Fatalf("entries within the window: %d %q", a.status, a.body)
	}
	old := newest.Add(-11 * time.Second)
	a := push(t, s, strm(`{app="x"}`, entry(old, "too old"), entry(newest.Add(time.Second), "newer"), entry(old.Add(-time.Second), "older still")))
	want := fmt.Sprintf("entry with timestamp %s ignored, reason: 'entry too far behind, entry timestamp is: %s, oldest acceptable timestamp is: %s',\n"+
		"entry with timestamp %s ignored, reason: 'entry too far behind, entry timestamp is: %s, oldest acceptable timestamp is: %s',\n"+
		"user 'fake', total ignored: 2 out of 3 for stream: {app=\"x\"}\n",
		old, old.Format(time.RFC3339), newest.Add(-10*time.Second).Format(time.RFC3339),
		old.Add(-time.Second), old.Add(-time.Second).Format(time.RFC3339), newest.Add(-9*time.Second).Format(time.RFC3339))
	if a.status != 400 || a.body != want {
		t.Errorf("answer %d %q\nwant   %q", a.status, a.body, want)
	}
	if got := s.Lines("fake", `{app="x"}`); !slices.Equal(got, []string{"at the edge", "within", "newest", "newer"}) {
		t.Errorf("stored %q", got)
	}
	// Another stream has its own window.
	if a := push(t, s, strm(`{app="y"}`, entry(old, "fine here"))); a.status != 204 {
		t.Errorf("a fresh stream refused an old entry: %d %q", a.status, a.body)
	}
	if st := s.Stats(); st.Refused["too_far_behind"] != 2 {
		t.Errorf("refused %v", st.Refused)
	}
}

// Replays: an exact repeat of a stored (timestamp, line) is dropped
// silently inside the window; beyond the window Loki refuses it like any
// entry too far behind, stored or not.
func TestDuplicates(t *testing.T) {
	s := Start(t, Options{Now: clock, OutOfOrderWindow: 10 * time.Second})
	base := now.Add(-time.Minute)
	batch := strm(`{app="x"}`, entry(base, "a"), entry(base.Add(time.Second), "b"), entry(base.Add(time.Second), "b2"))
	push(t, s, batch)
	if a := push(t, s, batch); a.status != 204 {
		t.Fatalf("replay: %d %q", a.status, a.body)
	}
	if n := s.Count("fake", `{app="x"}`); n != 3 {
		t.Fatalf("after a replay %d entries", n)
	}
	push(t, s, strm(`{app="x"}`, entry(base.Add(time.Minute), "later")))
	a := push(t, s, strm(`{app="x"}`, entry(base, "a")))
	if a.status != 400 || !strings.Contains(a.body, "entry too far behind") {
		t.Errorf("a replay beyond the window: %d %q", a.status, a.body)
	}
	// A repeat of the newest entry is dropped silently too.
	if a := push(t, s, strm(`{app="x"}`, entry(base.Add(time.Minute), "later"))); a.status != 204 {
		t.Errorf("repeat of the last entry: %d %q", a.status, a.body)
	}
	if st := s.Stats(); st.Duplicates != 4 || st.Stored != 4 {
		t.Errorf("duplicates %d stored %d", st.Duplicates, st.Stored)
	}
}

func TestTenants(t *testing.T) {
	s := Start(t, Options{Now: clock, MultiTenant: true})
	body := snappy.Encode(nil, encodePush(strm(`{app="x"}`, entry(now, "l"))))
	for _, tc := range []struct {
		org    string
		status int
		want   string
	}{
		{"", 401, "no org id"},
		{"a|b", 400, "multiple org IDs present"},
		{"..", 400, "tenant ID is '.' or '..'"},
		{"a/b", 400, "tenant ID 'a/b' contains unsupported character '/'"},
		{strings.Repeat("t", 151), 400, "tenant ID is too long: max 150 characters"},
		{"team-a", 204, ""},
		{"team_b", 204, ""},
	} {
		a := post(t, s, body, "X-Scope-OrgID", tc.org)
		if want := tc.want + "\n"; a.status != tc.status || tc.status != 204 && a.body != want {
			t.Errorf("org %q: %d %q, want %d %q", tc.org, a.status, a.body, tc.status, want)
		}
	}
	if got := s.Tenants(); !slices.Equal(got, []string{"team-a", "team_b"}) {
		t.Errorf("tenants %q", got)
	}
	if s.Count("team-a", `{app="x"}`) != 1 || s.Count("fake", `{app="x"}`) != 0 {
		t.Error("storage is not per tenant")
	}
}

func TestStreamLimit(t *testing.T) {
	s := Start(t, Options{Now: clock, Limits: Limits{MaxStreamsPerTenant: 1}})
	a := push(t, s, strm(`{app="a"}`, entry(now, "1")), strm(`{app="b"}`, entry(now, "2")))
	want := `Maximum active stream limit exceeded when trying to create stream {app="b"}, reduce the number of active streams (reduce labels or reduce label values), or contact your Loki administrator to see if the limit can be increased, user: 'fake'` + "\n"
	if a.status != 429 || a.body != want {
		t.Errorf("answer %d %q", a.status, a.body)
	}
	if s.Count("fake", `{app="a"}`) != 1 {
		t.Error("the stream within the limit was not stored")
	}
}

func TestFaults(t *testing.T) {
	s := Start(t, Options{Now: clock})
	body := func(line string) []byte { return snappy.Encode(nil, encodePush(strm(`{app="x"}`, entry(now, line)))) }
	s.Script(Fault{Status: 429}, Fault{Status: 503}, Fault{Status: 502, Body: "bad gateway"}, Fault{Delay: 20 * time.Millisecond})
	a := post(t, s, body("one"))
	want := "Ingestion rate limit exceeded for user fake (limit: 4194304 bytes/sec) while attempting to ingest '1' lines totaling '3' bytes, reduce log volume or contact your Loki administrator to see if the limit can be increased\n"
	if a.status != 429 || a.body != want {
		t.Errorf("429: %d %q", a.status, a.body)
	}
	if a = post(t, s, body("one")); a.status != 503 || a.body != "too many unhealthy instances in the ring\n" {
		t.Errorf("503: %d %q", a.status, a.body)
	}
	if a = post(t, s, body("one")); a.status != 502 || a.body != "bad gateway\n" {
		t.Errorf("502: %d %q", a.status, a.body)
	}
	if s.Count("fake", `{app="x"}`) != 0 {
		t.Fatal("a refused push was stored")
	}
	if a = post(t, s, body("one")); a.status != 204 || s.Count("fake", `{app="x"}`) != 1 {
		t.Errorf("delayed push: %d", a.status)
	}

	s.Script(Fault{Reset: true}, Fault{ResetAfterApply: true})
	for i, line := range []string{"reset", "lost"} {
		req, _ := http.NewRequest(http.MethodPost, s.PushURL(), bytes.NewReader(body(line)))
		req.Header.Set("Content-Type", "application/x-protobuf")
		if resp, err := s.Client().Do(req); err == nil {
			resp.Body.Close()
			t.Errorf("fault %d: an answer came", i)
		}
	}
	if got := s.Lines("fake", `{app="x"}`); !slices.Equal(got, []string{"one", "lost"}) {
		t.Errorf("lines after resets %q", got)
	}
	if st := s.Stats(); st.Refused["rate_limited"] != 1 || st.RequestsByStatus[0] != 2 {
		t.Errorf("stats %+v", st)
	}
}

func TestRoutingAndGateway(t *testing.T) {
	s := Start(t, Options{Now: clock, Users: map[string]string{"u": "p"}, BearerTokens: []string{"tok"}})
	body := snappy.Encode(nil, encodePush(strm(`{app="x"}`, entry(now, "l"))))
	if a := post(t, s, body); a.status != 401 {
		t.Errorf("no credentials: %d", a.status)
	}
	if a := post(t, s, body, "Authorization", "Bearer tok"); a.status != 204 {
		t.Errorf("bearer: %d %q", a.status, a.body)
	}
	for _, tc := range []struct {
		method, path string
		status       int
	}{{http.MethodGet, "/loki/api/v1/push", 405}, {http.MethodGet, "/ready", 200}, {http.MethodPost, "/api/prom/push", 404}} {
		req, _ := http.NewRequest(tc.method, s.URL+tc.path, nil)
		resp, err := s.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("%s %s → %d, want %d", tc.method, tc.path, resp.StatusCode, tc.status)
		}
	}
}

func TestStorageOffAndServiceName(t *testing.T) {
	s := Start(t, Options{Now: clock, StorageOff: true, DiscoverServiceName: true})
	batch := strm(`{app="x"}`, entry(now, "a"), entry(now, "b"))
	push(t, s, batch)
	push(t, s, batch)
	if n, es := s.Count("fake", `{app="x", service_name="x"}`), s.Entries("fake", `{app="x", service_name="x"}`); n != 2 || len(es) != 0 {
		t.Errorf("count %d, entries %v", n, es)
	}
	push(t, s, strm(`{env="prod"}`, entry(now, "a")))
	if s.Count("fake", `{env="prod", service_name="unknown_service"}`) != 1 {
		t.Errorf("streams %q", s.Streams("fake"))
	}
	if st := s.Stats(); st.Duplicates != 2 {
		t.Errorf("duplicates %d", st.Duplicates)
	}
}

// Concurrent pushes to several streams: every entry stored once (run with
// -race to check the locking).
func TestConcurrentPushes(t *testing.T) {
	s := Start(t, Options{Now: clock})
	const workers, per = 4, 50
	done := make(chan struct{}, workers)
	for w := range workers {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range per {
				labels := fmt.Sprintf(`{app="c", w="%d"}`, w%2)
				body := snappy.Encode(nil, encodePush(strm(labels, entry(now.Add(-time.Duration(i)*time.Millisecond), fmt.Sprint(w, "-", i)))))
				req, _ := http.NewRequest(http.MethodPost, s.PushURL(), bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/x-protobuf")
				resp, err := s.Client().Do(req)
				if err != nil {
					t.Errorf("push: %v", err)
					return
				}
				resp.Body.Close()
				if resp.StatusCode != 204 {
					t.Errorf("status %d", resp.StatusCode)
				}
			}
		}()
	}
	for range workers {
		<-done
	}
	if st := s.Stats(); st.Stored != workers*per {
		t.Errorf("stored %d of %d", st.Stored, workers*per)
	}
}

func TestScriptedTooLarge(t *testing.T) {
	s := Start(t, Options{Now: clock})
	s.Script(Fault{Status: 413})
	body := snappy.Encode(nil, encodePush(strm(`{app="x"}`, entry(now, "l"))))
	if a := post(t, s, body); a.status != 413 || a.body != fmt.Sprintf("message size too large than max (%d vs %d)\n", len(body), DefaultMaxRequestBytes) {
		t.Errorf("scripted 413: %d %q", a.status, a.body)
	}
}

// Loki answers a push that nothing survives validation of before its rate
// limiter: a 400, even when it would rate-limit.
func TestRateLimitAfterValidation(t *testing.T) {
	s := Start(t, Options{Now: clock})
	s.Script(Fault{Status: 429})
	if a := push(t, s, strm(`{}`, entry(now, "x"))); a.status != 400 || s.Pending() != 0 {
		t.Errorf("rate limit with nothing valid: %d %q, %d faults pending", a.status, a.body, s.Pending())
	}
}
