package loki

import (
	"crypto/tls"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/capstan-agent/capstan/component/tlsconf"
	"github.com/capstan-agent/capstan/shipper/httpc"
	"github.com/capstan-agent/capstan/shipper/loki/lokifake"
)

// entries maps each stored line to its stream and entry, failing on a line
// stored twice.
func entries(t *testing.T, f *lokifake.Fake, tenant string) map[string]struct {
	stream string
	e      lokifake.Entry
} {
	t.Helper()
	out := map[string]struct {
		stream string
		e      lokifake.Entry
	}{}
	for _, s := range f.Streams(tenant) {
		for _, e := range f.Entries(tenant, s) {
			if _, dup := out[e.Line]; dup {
				t.Errorf("line %s stored twice", e.Line)
			}
			out[e.Line] = struct {
				stream string
				e      lokifake.Entry
			}{s, e}
		}
	}
	return out
}

// TestPush: both encodings, with a tenant and each kind of auth: every
// record lands once, in the stream its labels make, at its own time, with
// the other attributes as structured metadata.
func TestPush(t *testing.T) {
	for _, tc := range []struct {
		name, encoding string
		auth           *httpc.Auth
	}{
		{"protobuf-basic", EncodingProtobuf, &httpc.Auth{Basic: &httpc.Basic{User: "u", Password: "p"}}},
		{"json-bearer", EncodingJSON, &httpc.Auth{Bearer: &httpc.Bearer{Token: "tok"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := lokifake.Start(t, lokifake.Options{MultiTenant: true, Users: map[string]string{"u": "p"}, BearerTokens: []string{"tok"}})
			r := newRig(t, 2)
			r.add(0, 0, 300, 40)
			r.add(1, 0, 300, 40)
			e := r.run(testConfig(srv.URL, func(c *Config) {
				c.Encoding, c.Auth, c.Tenant = tc.encoding, tc.auth, "shop"
				c.StaticLabels = map[string]string{"env": "test"}
				c.Batch.MaxRecords = 50
			}))
			waitFor(t, "600 entries stored", func() bool { return srv.Stats().Stored == 600 })
			got := entries(t, srv.Fake, "shop")
			for p := range 2 {
				for i := range 300 {
					g, ok := got[line(p, i)]
					if !ok {
						t.Fatalf("line %s not stored", line(p, i))
					}
					if want := fmt.Sprintf(`{app="%s", env="test", host="h%d"}`, app(i), p); g.stream != want {
						t.Errorf("line %s in stream %s, want %s", line(p, i), g.stream, want)
					}
					if want := time.Unix(0, base+int64(i)*int64(time.Millisecond)); !g.e.Timestamp.Equal(want) {
						t.Errorf("line %s at %v, want %v", line(p, i), g.e.Timestamp, want)
					}
					// (Loki's JSON takes metadata as an object: its order is not kept.)
					wantMeta := []lokifake.LabelPair{{Name: "input", Value: "files"}, {Name: "trace_id", Value: fmt.Sprintf("t%d", i)}}
					meta := slices.Clone(g.e.StructuredMetadata)
					slices.SortFunc(meta, func(a, b lokifake.LabelPair) int { return strings.Compare(a.Name, b.Name) })
					if !slices.Equal(meta, wantMeta) {
						t.Fatalf("line %s metadata %v, want %v", line(p, i), g.e.StructuredMetadata, wantMeta)
					}
				}
			}
			if n := metric(e.Metrics(), "streams"); n != 6 {
				t.Errorf("streams = %v, want 6", n)
			}
			if st := srv.Stats(); st.Duplicates != 0 || len(st.Refused) != 0 {
				t.Errorf("duplicates %d, refused %v", st.Duplicates, st.Refused)
			}
		})
	}
}

// TestAnswers: what each of Loki's answers does to a request.
func TestAnswers(t *testing.T) {
	for _, tc := range []struct {
		name   string
		faults []lokifake.Fault
		reason string // "" = retried: every line stored once
		dead   string // the dead letters' reason, if refused
	}{
		{"429 retried", []lokifake.Fault{{Status: 429}, {Status: 429}}, "http_429", ""},
		{"500 retried", []lokifake.Fault{{Status: 500}}, "http_500", ""},
		{"503 retried", []lokifake.Fault{{Status: 503}}, "http_503", ""},
		{"reset retried", []lokifake.Fault{{Reset: true}}, "connection", ""},
		{"stored then reset: the replay is dropped", []lokifake.Fault{{ResetAfterApply: true}}, "connection", ""},
		{"413 split", []lokifake.Fault{{Status: 413}}, "too_large", ""},
		{"400 dead-lettered", []lokifake.Fault{{Status: 400, Body: "entry for stream '{app=\"x\"}' has timestamp too old"}}, "", "too_old"},
		{"401 dead-lettered", []lokifake.Fault{{Status: 401, Body: "no org id"}}, "", "http_401"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := lokifake.Start(t, lokifake.Options{})
			srv.Script(tc.faults...)
			r := newRig(t, 1)
			r.add(0, 0, 30, 30)
			e := r.run(testConfig(srv.URL, func(c *Config) {
				c.Labels = map[string]string{"host": "host.name"} // one stream, one request
				c.Concurrency = 1
			}))
			if tc.dead != "" {
				waitFor(t, "30 dead letters", func() bool { return len(r.DeadLetters()) == 30 })
				for b, v := range r.DeadLetters() {
					if v[0] != tc.dead || !strings.Contains(v[1], tc.faults[0].Body) {
						t.Errorf("dead letter %s: reason %q message %q, want %q with Loki's words", b, v[0], v[1], tc.dead)
					}
				}
				if n := e.Stats().DeadLettered(tc.dead); n != 30 {
					t.Errorf("dead_letter_records_total{%s} = %d", tc.dead, n)
				}
				if st := srv.Stats(); st.Requests != 1 {
					t.Errorf("%d requests: a refusal was retried", st.Requests)
				}
				return
			}
			waitFor(t, "30 entries stored", func() bool { return srv.Stats().Stored == 30 })
			waitFor(t, "every request resolved", func() bool { return e.Stats().Records.Load() == 30 })
			if n := e.Stats().Failures(tc.reason); n == 0 {
				t.Errorf("failures_total{%s} = 0", tc.reason)
			}
			if got := srv.Lines("fake", `{host="h0"}`); len(got) != 30 {
				t.Errorf("%d lines stored: %v", len(got), got)
			}
			if len(r.DeadLetters()) != 0 {
				t.Errorf("dead letters: %v", r.DeadLetters())
			}
		})
	}
}

// TestOrderAfterOutage: Loki down while records of several streams pile up
// in two partitions; once it is back, no entry is refused for order: with
// one request of a stream at a time even with a window of zero (any entry
// older than its stream's newest is refused), and with two of a stream at a
// time while their entries lie within a span inside the window. Records of
// a stream are a few ms apart, so requests of 7 records span tens of ms.
func TestOrderAfterOutage(t *testing.T) {
	for _, tc := range []struct {
		name           string
		window, span   time.Duration
		streamInFlight int
	}{
		{"one at a time, no window", time.Nanosecond, time.Minute, 1},
		{"two at a time, a span inside the window", 200 * time.Millisecond, 100 * time.Millisecond, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := lokifake.Start(t, lokifake.Options{OutOfOrderWindow: tc.window})
			faults := make([]lokifake.Fault, 40)
			for i := range faults {
				faults[i] = lokifake.Fault{Status: 503}
			}
			srv.Script(faults...)
			r := newRig(t, 2)
			r.add(0, 0, 200, 25)
			r.add(1, 0, 200, 25)
			r.run(testConfig(srv.URL, func(c *Config) {
				c.Concurrency = 4
				c.StreamInFlight, c.StreamInFlightSpan = tc.streamInFlight, tc.span
				c.Batch.MaxRecords = 7
			}))
			waitFor(t, "the outage to be over", func() bool { return srv.Pending() == 0 })
			r.add(0, 200, 300, 10) // live records, while the backlog drains
			r.add(1, 200, 300, 10)
			waitFor(t, "1000 entries stored or refused", func() bool {
				st := srv.Stats()
				n := st.Stored
				for _, c := range st.Refused {
					n += c
				}
				return n >= 1000
			})
			if st := srv.Stats(); len(st.Refused) != 0 {
				t.Errorf("refused: %v", st.Refused)
			}
			for _, s := range srv.Streams("fake") {
				es := srv.Entries("fake", s)
				if len(es) == 0 {
					t.Errorf("stream %s empty", s)
				}
			}
		})
	}
}

// TestMaxStreams: past max_streams, records of new label sets go to the
// overflow stream with their labels as structured metadata, counted.
func TestMaxStreams(t *testing.T) {
	srv := lokifake.Start(t, lokifake.Options{})
	r := newRig(t, 1)
	r.add(0, 0, 30, 30)
	e := r.run(testConfig(srv.URL, func(c *Config) {
		c.Labels = map[string]string{"app": "app"}
		c.MaxStreams = 2
	}))
	waitFor(t, "30 entries stored", func() bool { return srv.Stats().Stored == 30 })
	want := []string{`{app="app0"}`, `{app="app1"}`, `{capstan_overflow="true"}`}
	if got := srv.Streams("fake"); !slices.Equal(got, want) {
		t.Errorf("streams %v, want %v", got, want)
	}
	for _, en := range srv.Entries("fake", `{capstan_overflow="true"}`) {
		if !slices.Contains(en.StructuredMetadata, lokifake.LabelPair{Name: "app", Value: "app2"}) {
			t.Errorf("overflow entry %s lacks app=app2 in %v", en.Line, en.StructuredMetadata)
		}
	}
	if n := metric(e.Metrics(), "label_overflow_records_total"); n != 10 {
		t.Errorf("label_overflow_records_total = %v, want 10", n)
	}
	if n := metric(e.Metrics(), "streams"); n != 2 {
		t.Errorf("streams = %v, want 2", n)
	}
}

// TestMaxStreamsBySource: the overflow counts every record, also those
// whose label set is their batch's source's (computed once per batch).
func TestMaxStreamsBySource(t *testing.T) {
	srv := lokifake.Start(t, lokifake.Options{})
	r := newRig(t, 3)
	for p := range 3 {
		r.addPlain(p, 20)
	}
	e := r.run(testConfig(srv.URL, func(c *Config) {
		c.Labels = map[string]string{"host": "host.name"}
		c.MaxStreams = 2
	}))
	waitFor(t, "60 entries stored", func() bool { return srv.Stats().Stored == 60 })
	if n := srv.Count("fake", `{capstan_overflow="true"}`); n != 20 {
		t.Errorf("overflow stream holds %d entries, want 20", n)
	}
	if n := metric(e.Metrics(), "label_overflow_records_total"); n != 20 {
		t.Errorf("label_overflow_records_total = %v, want 20", n)
	}
}

// TestTLS: an https endpoint is verified against tls.ca_file; without it
// the server is not trusted and nothing is delivered (retried as tls).
func TestTLS(t *testing.T) {
	srv := lokifake.Start(t, lokifake.Options{TLS: &tls.Config{}})
	ca := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600)
	t.Run("trusted", func(t *testing.T) {
		r := newRig(t, 1)
		r.add(0, 0, 20, 20)
		r.run(testConfig(srv.URL, func(c *Config) { c.TLS = &tlsconf.Client{CAFile: ca, MinVersion: "1.2"} }))
		waitFor(t, "20 entries stored", func() bool { return srv.Stats().Stored >= 20 })
	})
	t.Run("untrusted", func(t *testing.T) {
		r := newRig(t, 1)
		r.add(0, 100, 5, 5)
		e := r.run(testConfig(srv.URL, nil))
		waitFor(t, "a failed TLS handshake", func() bool { return e.Stats().Failures("tls") > 0 })
		if e.Stats().Records.Load() != 0 {
			t.Error("delivered to an untrusted server")
		}
	})
}
