package delivery

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap"

	"github.com/capstan-agent/capstan/component"
	"github.com/capstan-agent/capstan/component/componenttest"
	"github.com/capstan-agent/capstan/spool"
	"github.com/capstan-agent/capstan/spool/batch"
	"github.com/capstan-agent/capstan/spool/spooltest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// lineEncoder writes a record's body and a newline; bodies that start with
// "unencodable" fail.
type lineEncoder struct{}

func (lineEncoder) Encode(req *Request, rec *Record) error {
	if bytes.HasPrefix(rec.Body, []byte("unencodable")) {
		return fmt.Errorf("cannot encode %q", rec.Body)
	}
	req.Body = append(append(req.Body, rec.Body...), '\n')
	return nil
}

// keyEncoder is lineEncoder with the record attribute "k" as key.
type keyEncoder struct{ lineEncoder }

func (keyEncoder) Key(rec *Record) []byte {
	it := rec.Attrs()
	for k, v, ok := it.Next(); ok; k, v, ok = it.Next() {
		if string(k) == "k" {
			return v
		}
	}
	return nil
}

// sent is one request as a scripted destination saw it.
type sent struct {
	attempt int
	key     string
	offsets []uint64
	bodies  []string
}

func (s sent) String() string { return fmt.Sprintf("%v attempt %d", s.offsets, s.attempt) }

// script is a scripted destination: answer decides each request's fate
// (it may block, mark records, or look at what was sent before).
type script struct {
	mu     sync.Mutex
	sent   []sent
	answer func(ctx context.Context, req *Request, s sent) Result
	took   map[string]int // delivered bodies and how often
}

func newScript(answer func(ctx context.Context, req *Request, s sent) Result) *script {
	return &script{answer: answer, took: map[string]int{}}
}

func (sc *script) Send(ctx context.Context, req *Request) Result {
	s := sent{attempt: req.Attempt(), key: req.Key()}
	for i := 0; i < req.Len(); i++ {
		s.offsets = append(s.offsets, req.Offset(i))
		s.bodies = append(s.bodies, strings.TrimSuffix(string(req.RecordBytes(i)), "\n"))
	}
	sc.mu.Lock()
	sc.sent = append(sc.sent, s)
	sc.mu.Unlock()
	res := sc.answer(ctx, req, s)
	if res.kind == delivered {
		refused := map[int]bool{}
		for _, m := range req.marks {
			if m.kind != markDuplicate {
				refused[m.i] = true
			}
		}
		sc.mu.Lock()
		for i, b := range s.bodies {
			if !refused[i] {
				sc.took[b]++
			}
		}
		sc.mu.Unlock()
	}
	return res
}

func (sc *script) sends() []sent {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return append([]sent(nil), sc.sent...)
}

func (sc *script) delivered() map[string]int {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	out := map[string]int{}
	for k, v := range sc.took {
		out[k] = v
	}
	return out
}

func deliver(context.Context, *Request, sent) Result { return Delivered() }

// rig is a spool with a stream "app" and an engine's host.
type rig struct {
	t    *testing.T
	sp   *spool.Spool
	st   *spool.Stream
	host *componenttest.Host
}

func newRig(t *testing.T, partitions int) *rig {
	sp := spooltest.Open(t, t.TempDir(), spool.Options{}, map[string]int{"app": partitions, "dead": 1})
	st := spooltest.Stream(t, sp, "app")
	h := componenttest.NewHost(sp, "out")
	h.StreamsRead = []*spool.Stream{st}
	return &rig{t: t, sp: sp, st: st, host: h}
}

// add appends records "<tag>-<i>" for i in [from, from+n) to partition p,
// in batches of per; attrs gives a record's own attributes.
func (r *rig) add(p, from, n, per int, tag string, attrs func(i int) []batch.Attr) {
	r.t.Helper()
	var b batch.Builder
	for i := from; i < from+n; i += per {
		b.Reset(0, []batch.Attr{batch.StringAttr("src", tag)})
		for j := i; j < min(i+per, from+n); j++ {
			var a []batch.Attr
			if attrs != nil {
				a = attrs(j)
			}
			b.AddWithAttrs(int64(1_700_000_000_000_000_000+j), []byte(tag+"-"+strconv.Itoa(j)), a)
		}
		if _, err := r.st.Partition(p).Append(context.Background(), b.Bytes()); err != nil {
			r.t.Fatal(err)
		}
	}
}

func (r *rig) committed(p int) uint64 {
	r.t.Helper()
	got, err := r.sp.Checkpoints().Load("out")
	if err != nil {
		r.t.Fatal(err)
	}
	return got[spool.Key{Stream: "app", Partition: p}]
}

func settings() component.Settings {
	return component.Settings{ID: component.ID{Kind: component.KindOutput, Type: "test", Name: "out"},
		Logger: zap.NewNop(), StartAt: "oldest"}
}

func opts(f func(*Options)) Options {
	o := Options{Concurrency: 1}
	o.SetDefaults()
	o.Retry.Initial, o.Retry.Max = time.Millisecond, 5*time.Millisecond
	o.DrainTimeout = 100 * time.Millisecond
	if f != nil {
		f(&o)
	}
	return o
}

// running is an engine running in a goroutine.
type running struct {
	e    *Engine
	stop func() error
}

func (r *rig) run(e *Engine) *running {
	r.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx, r.host) }()
	select {
	case <-r.host.Readied():
	case err := <-done:
		cancel()
		r.t.Fatalf("engine returned before it was ready: %v", err)
	case <-time.After(10 * time.Second):
		cancel()
		r.t.Fatal("engine not ready after 10s")
	}
	stopped := false
	var err error
	stop := func() error {
		if stopped {
			return err
		}
		stopped = true
		cancel()
		select {
		case err = <-done:
		case <-time.After(20 * time.Second):
			r.t.Fatal("engine did not stop within 20s")
		}
		return err
	}
	r.t.Cleanup(func() { stop() })
	return &running{e: e, stop: stop}
}

// waitFor waits up to 10s for cond, failing the test with what it waited
// for.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	componenttest.WaitFor(t, 10*time.Second, what, cond)
}

// deadRecords reads the dead-letter stream: body → reason attribute.
func (r *rig) deadRecords() map[string][2]string {
	r.t.Helper()
	st := spooltest.Stream(r.t, r.sp, "dead")
	out := map[string][2]string{}
	p := st.Partition(0)
	rd := p.NewReader(0)
	buf := make([]byte, 1<<20)
	for {
		rg, err := rd.Next(1 << 20)
		if err != nil {
			return out
		}
		b := buf[:rg.Len]
		rg.File.ReadAt(b, rg.Pos)
		for len(b) > 0 {
			bt, size, err := batch.Decode(b)
			if err != nil {
				r.t.Fatal(err)
			}
			it := bt.Records()
			var rec batch.Record
			for it.Next(&rec) {
				var reason, msg string
				at := rec.Attrs()
				for k, v, ok := at.Next(); ok; k, v, ok = at.Next() {
					switch string(k) {
					case AttrDeadLetterReason:
						reason = string(v)
					case AttrDeadLetterMessage:
						msg = string(v)
					}
				}
				out[string(rec.Body)] = [2]string{reason, msg}
			}
			b = b[size:]
		}
	}
}
