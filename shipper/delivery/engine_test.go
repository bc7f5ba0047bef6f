package delivery

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/capstan-agent/capstan/component"
	"github.com/capstan-agent/capstan/component/componenttest"
	"github.com/capstan-agent/capstan/spool"
	"github.com/capstan-agent/capstan/spool/batch"
	"github.com/capstan-agent/capstan/spool/spooltest"
)

// Requests complete in the reverse of the order they were sent: the
// checkpoint never passes a request still in flight, and moves to the end
// once the oldest is acknowledged.
func TestInOrderCommitsWithOutOfOrderCompletions(t *testing.T) {
	r := newRig(t, 1)
	r.add(0, 0, 40, 10, "a", nil)
	release := map[uint64]chan struct{}{}
	var mu sync.Mutex
	gate := func(first uint64) chan struct{} {
		mu.Lock()
		defer mu.Unlock()
		if release[first] == nil {
			release[first] = make(chan struct{})
		}
		return release[first]
	}
	sc := newScript(func(ctx context.Context, req *Request, s sent) Result {
		select {
		case <-gate(s.offsets[0]):
			return Delivered()
		case <-ctx.Done():
			return Retry("stopped", ctx.Err())
		}
	})
	e := New(settings(), opts(func(o *Options) { o.Concurrency = 4; o.Batch.MaxRecords = 10 }), lineEncoder{}, sc)
	run := r.run(e)
	waitFor(t, "4 requests in flight", func() bool { return len(sc.sends()) == 4 })
	for i, first := range []uint64{30, 20, 10} {
		close(gate(first))
		waitFor(t, fmt.Sprintf("request %d resolved", first), func() bool { return e.resolvedN.Load() == uint64(i+1) })
		if c := r.committed(0); c != 0 {
			t.Fatalf("after acknowledging %d (0 in flight) the checkpoint is %d", first, c)
		}
	}
	close(gate(0))
	waitFor(t, "checkpoint at 40", func() bool { return r.committed(0) == 40 })
	if err := run.stop(); err != nil {
		t.Fatal(err)
	}
}

// Records the destination refused item by item: the retried ones go again
// (only those), the rejected ones reach the dead letter with their reason,
// duplicates count as delivered.
func TestPartialFailures(t *testing.T) {
	r := newRig(t, 1)
	r.host.DeadLetter = streamOf(t, r, "dead")
	r.add(0, 0, 30, 30, "a", nil)
	sc := newScript(func(_ context.Context, req *Request, s sent) Result {
		for i, b := range s.bodies {
			var n int
			fmt.Sscanf(b, "a-%d", &n)
			switch {
			case n%10 == 3:
				req.RejectRecord(i, "mapper_parsing_exception", "failed to parse field [x]")
			case n%3 == 0 && s.attempt < 2:
				req.RetryRecord(i, "item_429")
			case n == 7:
				req.DuplicateRecord(i)
			}
		}
		return Delivered()
	})
	e := New(settings(), opts(func(o *Options) { o.DeadLetter.Stream = "dead" }), lineEncoder{}, sc)
	run := r.run(e)
	waitFor(t, "checkpoint at 30", func() bool { return r.committed(0) == 30 })
	run.stop()

	sends := sc.sends()
	if len(sends) != 3 {
		t.Fatalf("sends %v, want the request and two retries", sends)
	}
	for _, s := range sends[1:] {
		for _, b := range s.bodies {
			var n int
			fmt.Sscanf(b, "a-%d", &n)
			if n%3 != 0 || n%10 == 3 {
				t.Errorf("attempt %d sent %s again, which was not refused", s.attempt, b)
			}
		}
	}
	got := sc.delivered()
	dead := r.deadRecords()
	for n := 0; n < 30; n++ {
		b := fmt.Sprintf("a-%d", n)
		if n%10 == 3 {
			if got[b] != 0 || dead[b] != [2]string{"mapper_parsing_exception", "failed to parse field [x]"} {
				t.Errorf("%s: delivered %d, dead letter %q", b, got[b], dead[b])
			}
			continue
		}
		if got[b] != 1 {
			t.Errorf("%s delivered %d times", b, got[b])
		}
	}
	if len(dead) != 3 {
		t.Errorf("dead letter holds %v", dead)
	}
	st := e.Stats()
	if st.Records.Load() != 27 || st.Duplicates.Load() != 1 || st.DeadLettered("mapper_parsing_exception") != 3 ||
		st.Failures("item_429") != 2 {
		t.Errorf("records %d duplicates %d dead %d failures %d", st.Records.Load(), st.Duplicates.Load(),
			st.DeadLettered("mapper_parsing_exception"), st.Failures("item_429"))
	}
}

// A destination that says Retry-After is not asked again sooner.
func TestRetryAfter(t *testing.T) {
	r := newRig(t, 1)
	r.add(0, 0, 5, 5, "a", nil)
	var times []time.Time
	sc := newScript(func(_ context.Context, req *Request, s sent) Result {
		times = append(times, time.Now())
		if s.attempt == 0 {
			return Retry("http_429", errors.New("429 Too Many Requests")).After(300 * time.Millisecond)
		}
		return Delivered()
	})
	run := r.run(New(settings(), opts(nil), lineEncoder{}, sc))
	waitFor(t, "checkpoint at 5", func() bool { return r.committed(0) == 5 })
	run.stop()
	if len(times) != 2 {
		t.Fatalf("%d attempts", len(times))
	}
	if gap := times[1].Sub(times[0]); gap < 300*time.Millisecond {
		t.Fatalf("asked again after %s; Retry-After said 300ms (backoff alone is 1ms)", gap)
	}
}

// The destination is down for a while: the output is degraded, loses
// nothing, and once it is back sends the backlog in full requests, running
// again.
func TestDestinationDownThenBack(t *testing.T) {
	r := newRig(t, 2)
	r.add(0, 0, 500, 50, "a", nil)
	r.add(1, 0, 500, 50, "b", nil)
	var down sync.Mutex
	down.Lock()
	up := make(chan struct{})
	failures := 0
	sc := newScript(func(_ context.Context, req *Request, s sent) Result {
		select {
		case <-up:
			return Delivered()
		default:
		}
		failures++
		if failures == 20 {
			down.Unlock()
		}
		return Retry("connection", errors.New("connection refused"))
	})
	e := New(settings(), opts(func(o *Options) { o.Batch.MaxRecords = 100 }), lineEncoder{}, sc)
	run := r.run(e)
	down.Lock() // 20 failed attempts
	if s, reason := r.host.State(); s != component.Degraded || !strings.Contains(reason, "connection refused") {
		t.Fatalf("while down: %s %q", s, reason)
	}
	close(up)
	waitFor(t, "every record committed", func() bool { return r.committed(0) == 500 && r.committed(1) == 500 })
	run.stop()
	if s, _ := r.host.State(); s != component.Running {
		t.Errorf("after recovery: %s", s)
	}
	got := sc.delivered()
	for _, tag := range []string{"a", "b"} {
		for n := 0; n < 500; n++ {
			if c := got[fmt.Sprintf("%s-%d", tag, n)]; c != 1 {
				t.Fatalf("%s-%d delivered %d times", tag, n, c)
			}
		}
	}
	for _, s := range sc.sends() {
		if len(s.offsets) != 100 {
			t.Errorf("catch-up sent a request of %d records, not full ones: %v", len(s.offsets), s)
		}
	}
}

// Requests refused for good go to the dead letter with their reason:
// another stream of the spool, or a file.
func TestRejectedToDeadLetter(t *testing.T) {
	reject := func(_ context.Context, req *Request, s sent) Result {
		if s.bodies[0] == "a-5" || s.bodies[0] == "a-10" {
			return Reject("http_400", errors.New(`400 Bad Request: {"error":"invalid"}`))
		}
		return Delivered()
	}
	t.Run("stream", func(t *testing.T) {
		r := newRig(t, 1)
		r.host.DeadLetter = streamOf(t, r, "dead")
		r.add(0, 0, 20, 5, "a", nil)
		e := New(settings(), opts(func(o *Options) { o.Batch.MaxRecords = 5; o.DeadLetter.Stream = "dead" }), lineEncoder{}, newScript(reject))
		run := r.run(e)
		waitFor(t, "checkpoint at 20", func() bool { return r.committed(0) == 20 })
		run.stop()
		dead := r.deadRecords()
		if len(dead) != 10 || dead["a-12"] != [2]string{"http_400", `400 Bad Request: {"error":"invalid"}`} {
			t.Fatalf("dead letter: %v", dead)
		}
		if n := e.Stats().DeadLettered("http_400"); n != 10 {
			t.Errorf("dead_letter_records_total{reason=http_400} = %d", n)
		}
	})
	t.Run("file", func(t *testing.T) {
		r := newRig(t, 1)
		r.add(0, 0, 20, 5, "a", nil)
		path := filepath.Join(t.TempDir(), "dead.ndjson")
		e := New(settings(), opts(func(o *Options) { o.Batch.MaxRecords = 5; o.DeadLetter.Path = path }), lineEncoder{}, newScript(reject))
		run := r.run(e)
		waitFor(t, "checkpoint at 20", func() bool { return r.committed(0) == 20 })
		run.stop()
		b, _ := os.ReadFile(path)
		lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
		want := `{"ts":"2023-11-14T22:13:20.000000005Z","attrs":{"src":"a","capstan.dead_letter.reason":"http_400",` +
			`"capstan.dead_letter.message":"400 Bad Request: {\"error\":\"invalid\"}","capstan.dead_letter.output":"out",` +
			`"capstan.dead_letter.origin":"app/0:5"},"body":"a-5"}`
		if len(lines) != 10 || lines[0] != want {
			t.Fatalf("dead-letter file:\n%s\nwant first line\n%s", b, want)
		}
	})
	t.Run("none", func(t *testing.T) {
		r := newRig(t, 1)
		r.add(0, 0, 20, 5, "a", nil)
		e := New(settings(), opts(func(o *Options) { o.Batch.MaxRecords = 5 }), lineEncoder{}, newScript(reject))
		run := r.run(e)
		waitFor(t, "checkpoint at 20", func() bool { return r.committed(0) == 20 })
		run.stop()
		if n := e.Stats().DeadLettered("http_400"); n != 10 {
			t.Errorf("dropped records not counted: %d", n)
		}
	})
}

// A record the encoder cannot encode goes to the dead letter; the others
// are delivered and the checkpoint passes it.
func TestEncodeErrorToDeadLetter(t *testing.T) {
	r := newRig(t, 1)
	r.host.DeadLetter = streamOf(t, r, "dead")
	r.add(0, 0, 4, 4, "a", nil)
	r.add(0, 4, 1, 1, "unencodable", nil)
	r.add(0, 5, 4, 4, "a", nil)
	sc := newScript(deliver)
	e := New(settings(), opts(func(o *Options) { o.DeadLetter.Stream = "dead" }), lineEncoder{}, sc)
	run := r.run(e)
	waitFor(t, "checkpoint at 9", func() bool { return r.committed(0) == 9 })
	run.stop()
	if dead := r.deadRecords(); len(dead) != 1 || dead["unencodable-4"][0] != "encode" {
		t.Fatalf("dead letter %v", dead)
	}
	if got := sc.delivered(); len(got) != 8 {
		t.Fatalf("delivered %v", got)
	}
}

// A request too large for the destination is split until it fits; a
// single record too large goes to the dead letter.
func TestTooLargeSplits(t *testing.T) {
	r := newRig(t, 1)
	r.host.DeadLetter = streamOf(t, r, "dead")
	r.add(0, 0, 16, 16, "a", nil)
	tooLarge := func(s sent) bool { return len(s.bodies) > 3 || slices.Contains(s.bodies, "a-9") }
	sc := newScript(func(_ context.Context, req *Request, s sent) Result {
		if tooLarge(s) {
			return TooLarge(fmt.Errorf("413: %d records", len(s.bodies)))
		}
		return Delivered()
	})
	e := New(settings(), opts(func(o *Options) { o.DeadLetter.Stream = "dead" }), lineEncoder{}, sc)
	run := r.run(e)
	waitFor(t, "checkpoint at 16", func() bool { return r.committed(0) == 16 })
	run.stop()
	var order []string
	for _, s := range sc.sends() {
		if !tooLarge(s) {
			order = append(order, s.bodies...)
		}
	}
	want := []string{"a-0", "a-1", "a-2", "a-3", "a-4", "a-5", "a-6", "a-7", "a-8", "a-10", "a-11", "a-12", "a-13", "a-14", "a-15"}
	if fmt.Sprint(order) != fmt.Sprint(want) {
		t.Fatalf("delivered in order %v", order)
	}
	if dead := r.deadRecords(); len(dead) != 1 || dead["a-9"][0] != "too_large" {
		t.Fatalf("dead letter %v", dead)
	}
}

// retry.max_attempts gives up: the records go to the dead letter.
func TestMaxAttempts(t *testing.T) {
	r := newRig(t, 1)
	r.host.DeadLetter = streamOf(t, r, "dead")
	r.add(0, 0, 3, 3, "a", nil)
	sc := newScript(func(context.Context, *Request, sent) Result { return Retry("http_503", errors.New("503")) })
	e := New(settings(), opts(func(o *Options) { o.Retry.MaxAttempts = 3; o.DeadLetter.Stream = "dead" }), lineEncoder{}, sc)
	run := r.run(e)
	waitFor(t, "checkpoint at 3", func() bool { return r.committed(0) == 3 })
	run.stop()
	if n := len(sc.sends()); n != 3 {
		t.Errorf("%d attempts, want 3", n)
	}
	if dead := r.deadRecords(); len(dead) != 3 || dead["a-1"] != [2]string{"retries_exhausted", "503"} {
		t.Fatalf("dead letter %v", dead)
	}
	if s, _ := r.host.State(); s != component.Running {
		t.Errorf("state after giving up: %s", s)
	}
}

// Stopped with requests in flight that the destination never answers:
// Run returns after drain_timeout, nothing unacknowledged is committed, and
// the next run sends those records again.
func TestShutdownWithRequestsInFlight(t *testing.T) {
	r := newRig(t, 1)
	r.add(0, 0, 30, 10, "a", nil)
	sc := newScript(func(ctx context.Context, req *Request, s sent) Result {
		if s.offsets[0] == 0 {
			return Delivered()
		}
		<-ctx.Done() // a destination that hangs
		return Retry("timeout", ctx.Err())
	})
	e := New(settings(), opts(func(o *Options) { o.Concurrency = 2; o.Batch.MaxRecords = 10 }), lineEncoder{}, sc)
	run := r.run(e)
	waitFor(t, "two requests hanging", func() bool { return len(sc.sends()) == 3 })
	if err := run.stop(); err != nil {
		t.Fatal(err)
	}
	if c := r.committed(0); c != 10 {
		t.Fatalf("checkpoint %d after a stop with [10,30) unacknowledged, want 10", c)
	}
	sc2 := newScript(deliver)
	r.host = componenttestHost(r)
	run = r.run(New(settings(), opts(func(o *Options) { o.Batch.MaxRecords = 10 }), lineEncoder{}, sc2))
	waitFor(t, "checkpoint at 30", func() bool { return r.committed(0) == 30 })
	run.stop()
	if got := sc2.delivered(); len(got) != 20 || got["a-10"] != 1 || got["a-9"] != 0 {
		t.Fatalf("second run delivered %v", got)
	}
}

// With Ordered, a key's requests are never in flight together, and go in
// offset order; other keys are not held up.
func TestOrderedKeys(t *testing.T) {
	r := newRig(t, 1)
	keyOf := func(i int) []batch.Attr { return []batch.Attr{batch.StringAttr("k", fmt.Sprint("k", i%3))} }
	r.add(0, 0, 300, 7, "a", keyOf)
	var mu sync.Mutex
	inFlight := map[string]bool{}
	last := map[string]uint64{}
	var problems []string
	sc := newScript(func(_ context.Context, req *Request, s sent) Result {
		mu.Lock()
		if inFlight[s.key] {
			problems = append(problems, "two requests of "+s.key+" in flight")
		}
		if s.offsets[0] < last[s.key] {
			problems = append(problems, fmt.Sprintf("%s went back from %d to %d", s.key, last[s.key], s.offsets[0]))
		}
		inFlight[s.key], last[s.key] = true, s.offsets[len(s.offsets)-1]
		mu.Unlock()
		time.Sleep(time.Millisecond) // give another request of the key a chance to overtake
		mu.Lock()
		inFlight[s.key] = false
		mu.Unlock()
		return Delivered()
	})
	e := New(settings(), opts(func(o *Options) { o.Concurrency = 4; o.Ordered = true; o.Batch.MaxRecords = 10 }), keyEncoder{}, sc)
	run := r.run(e)
	waitFor(t, "checkpoint at 300", func() bool { return r.committed(0) == 300 })
	run.stop()
	for _, p := range problems {
		t.Error(p)
	}
	for _, s := range sc.sends() {
		for _, b := range s.bodies {
			var n int
			fmt.Sscanf(b, "a-%d", &n)
			if fmt.Sprint("k", n%3) != s.key {
				t.Fatalf("%s in a request of key %s", b, s.key)
			}
		}
	}
	if got := sc.delivered(); len(got) != 300 {
		t.Fatalf("delivered %d records", len(got))
	}
}

// With Ordered and OrderedInFlight above 1, up to that many requests of a
// key are in flight at once, but only while the newest record of each is
// within OrderedSpan of the oldest record of those out; they are sent in
// offset order.
func TestOrderedInFlight(t *testing.T) {
	for _, tc := range []struct {
		name     string
		inFlight int
		span     time.Duration
		want     int // most requests of the key in flight at once
	}{
		{"one at a time", 1, time.Hour, 1},
		{"two within the span", 2, time.Hour, 2},
		// Records are 1 ns apart, 10 a request: the next request's newest
		// is 19 ns after the oldest of the one out, the one after 29.
		{"the span allows two of three", 3, 19 * time.Nanosecond, 2},
		{"the span allows one of two", 2, 18 * time.Nanosecond, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, 1)
			r.add(0, 0, 100, 10, "a", func(int) []batch.Attr { return []batch.Attr{batch.StringAttr("k", "k")} })
			var mu sync.Mutex
			out := map[uint64]uint64{} // first → last offset of the requests in flight
			peak := 0
			var problems []string
			reached := make(chan struct{})
			var once sync.Once
			sc := newScript(func(_ context.Context, _ *Request, s sent) Result {
				first, last := s.offsets[0], s.offsets[len(s.offsets)-1]
				mu.Lock()
				// A record's timestamp is its offset in ns: no two requests
				// out at once may lie further apart than the span.
				for f, l := range out {
					if d := max(l, last) - min(f, first); d > uint64(tc.span) {
						problems = append(problems, fmt.Sprintf("[%d,%d] and [%d,%d] in flight together", f, l, first, last))
					}
				}
				out[first] = last
				peak = max(peak, len(out))
				if len(out) >= tc.want {
					once.Do(func() { close(reached) })
				}
				mu.Unlock()
				// Each request stays out until as many as allowed are, the
				// first a little longer: time for one too many to show up.
				select {
				case <-reached:
				case <-time.After(10 * time.Second):
					mu.Lock()
					problems = append(problems, fmt.Sprintf("no %d requests in flight at once in 10 s", tc.want))
					mu.Unlock()
				}
				if first == 0 {
					time.Sleep(100 * time.Millisecond)
				}
				mu.Lock()
				delete(out, first)
				mu.Unlock()
				return Delivered()
			})
			e := New(settings(), opts(func(o *Options) {
				o.Concurrency, o.Ordered, o.Batch.MaxRecords = 4, true, 10
				o.OrderedInFlight, o.OrderedSpan = tc.inFlight, tc.span
			}), keyEncoder{}, sc)
			run := r.run(e)
			waitFor(t, "checkpoint at 100", func() bool { return r.committed(0) == 100 })
			run.stop()
			for _, p := range problems {
				t.Error(p)
			}
			if peak != tc.want {
				t.Errorf("%d requests of the key in flight at once, want %d", peak, tc.want)
			}
			if got := sc.delivered(); len(got) != 100 {
				t.Fatalf("delivered %d records", len(got))
			}
		})
	}
}

// Linger holds a request for more records; Drain sends it at once.
func TestLingerAndDrain(t *testing.T) {
	r := newRig(t, 1)
	sc := newScript(deliver)
	e := New(settings(), opts(func(o *Options) { o.Batch.Linger = time.Hour }), lineEncoder{}, sc)
	run := r.run(e)
	r.add(0, 0, 3, 1, "a", nil)
	r.add(0, 3, 3, 1, "a", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.Drain(ctx); err != nil {
		t.Fatalf("drain with linger 1h: %v", err)
	}
	run.stop()
	if s := sc.sends(); len(s) != 1 || len(s[0].bodies) != 6 {
		t.Fatalf("sends %v, want one request of the 6 records", s)
	}
}

func streamOf(t *testing.T, r *rig, name string) *spool.Stream {
	t.Helper()
	return spooltest.Stream(t, r.sp, name)
}

// componenttestHost is a fresh host of r's streams: a new run.
func componenttestHost(r *rig) *componenttest.Host {
	h := componenttest.NewHost(r.sp, "out")
	h.StreamsRead, h.DeadLetter = r.host.StreamsRead, r.host.DeadLetter
	return h
}

// blockingKeyer holds the lane at record 10, after the request of records
// 0-9 was sent and before the next is opened.
type blockingKeyer struct {
	lineEncoder
	at      chan struct{}
	release chan struct{}
}

func (k blockingKeyer) Key(rec *Record) []byte {
	if rec.Offset == 10 {
		close(k.at)
		<-k.release
	}
	return nil
}

// A request resolved while the lane is in the middle of a range, with no
// other request open, commits up to its end at once.
func TestCommitWhileAssembling(t *testing.T) {
	r := newRig(t, 1)
	r.add(0, 0, 20, 20, "a", nil)
	k := blockingKeyer{at: make(chan struct{}), release: make(chan struct{})}
	e := New(settings(), opts(func(o *Options) { o.Batch.MaxRecords = 10 }), k, newScript(deliver))
	run := r.run(e)
	<-k.at
	waitFor(t, "records 0-9 committed while the lane holds record 10", func() bool { return r.committed(0) == 10 })
	close(k.release)
	waitFor(t, "checkpoint at 20", func() bool { return r.committed(0) == 20 })
	run.stop()
}

// With Ordered and linger 0, a key's request is sent as soon as its key is
// free, full or not: a request of a quiet key is not held (with the
// partition's commit point) while the lane waits on a busy one.
func TestOrderedFreeKeyNotHeld(t *testing.T) {
	r := newRig(t, 1)
	keyOf := func(i int) []batch.Attr {
		if i < 5 {
			return []batch.Attr{batch.StringAttr("k", "quiet")}
		}
		return []batch.Attr{batch.StringAttr("k", "busy")}
	}
	r.add(0, 0, 105, 105, "a", keyOf)
	quietSent := make(chan struct{})
	var once sync.Once
	var heldUp atomic.Bool
	sc := newScript(func(_ context.Context, _ *Request, s sent) Result {
		if s.key == "quiet" {
			once.Do(func() { close(quietSent) })
			return Delivered()
		}
		select {
		case <-quietSent:
		case <-time.After(10 * time.Second):
			heldUp.Store(true) // the quiet key's request waited for the busy key
		}
		return Delivered()
	})
	e := New(settings(), opts(func(o *Options) { o.Concurrency = 4; o.Ordered = true; o.Batch.MaxRecords = 10 }), keyEncoder{}, sc)
	run := r.run(e)
	waitFor(t, "checkpoint at 105", func() bool { return r.committed(0) == 105 })
	run.stop()
	if heldUp.Load() {
		t.Error("the quiet key's request was held until the busy key's records were read")
	}
}
