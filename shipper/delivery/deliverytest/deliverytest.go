// Package deliverytest is the test rig of the outputs built on
// delivery.Engine (otlp, http, elasticsearch, loki, kafka): a spool whose
// stream "app" an output named "out" reads and whose stream "dead" takes
// its dead letters, records appended as an input writes them, the output
// run until the test ends, its committed checkpoints and its dead letters
// read back. Only tests import it; each output keeps its destination's
// fake and its records' shape in its own package.
package deliverytest

import (
	"context"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/capstan-agent/capstan/component"
	"github.com/capstan-agent/capstan/component/componenttest"
	"github.com/capstan-agent/capstan/shipper/delivery"
	"github.com/capstan-agent/capstan/spool"
	"github.com/capstan-agent/capstan/spool/batch"
	"github.com/capstan-agent/capstan/spool/spooltest"
)

// Names of the rig: the output, the stream it reads and its dead-letter
// stream.
const (
	OutputName = "out"
	AppStream  = "app"
	DeadStream = "dead"
)

// Rig is a spool with a stream "app" of some partitions, read by the
// output "out", and a stream "dead" of one partition for its dead letters.
type Rig struct {
	T      testing.TB
	Spool  *spool.Spool
	Stream *spool.Stream // "app"
	Host   *componenttest.Host
}

// NewRig makes a rig in a temp dir of t whose stream "app" has partitions
// partitions.
func NewRig(t testing.TB, partitions int) *Rig {
	sp := spooltest.Open(t, t.TempDir(), spool.Options{}, map[string]int{AppStream: partitions, DeadStream: 1})
	h := componenttest.NewHost(sp, OutputName)
	st := spooltest.Stream(t, sp, AppStream)
	h.StreamsRead = []*spool.Stream{st}
	h.DeadLetter = spooltest.Stream(t, sp, DeadStream)
	return &Rig{T: t, Spool: sp, Stream: st, Host: h}
}

// Settings are the settings of the output "out" of type typ, logging
// warnings and errors to t.
func Settings(t testing.TB, typ string) component.Settings {
	return component.Settings{ID: component.ID{Kind: component.KindOutput, Type: typ, Name: OutputName},
		Logger: zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)), StartAt: "oldest"}
}

// Configure makes c quick for tests: retries from 5ms up to 50ms, a drain
// of 500ms, and dead letters to the stream "dead".
func Configure(c *delivery.Config) {
	c.Retry.Initial, c.Retry.Max = 5*time.Millisecond, 50*time.Millisecond
	c.DrainTimeout = 500 * time.Millisecond
	c.DeadLetter.Stream = DeadStream
}

// Batches say what Add writes.
type Batches struct {
	Producer uint64                                                  // 0: 1000+p
	Source   []batch.Attr                                            // the source attributes of every batch
	Time     func(first int) int64                                   // the base time of the batch whose first record is first
	Record   func(i int) (ts int64, body string, attrs []batch.Attr) // record i
}

// Add appends records from..from+n-1 to partition p of "app" in batches of
// per records, as an input writes them; each batch's sequence is one past
// its last record.
func (r *Rig) Add(p, from, n, per int, bs Batches) {
	r.T.Helper()
	producer := bs.Producer
	if producer == 0 {
		producer = uint64(1000 + p)
	}
	var b batch.Builder
	for i := from; i < from+n; i += per {
		b.ResetV2(producer, bs.Time(i), bs.Source)
		for j := i; j < min(i+per, from+n); j++ {
			ts, body, attrs := bs.Record(j)
			b.AddRecord(ts, batch.KindString, []byte(body), attrs)
		}
		b.SetSequence(uint64(min(i+per, from+n)))
		if _, err := r.Stream.Partition(p).Append(context.Background(), b.Bytes()); err != nil {
			r.T.Fatal(err)
		}
	}
}

// Run runs o with the rig's host until the test ends or stop is called.
// With ready > 0 it first waits that long for o to say Ready, failing the
// test if it does not or if Run returns before; with ready 0 it does not
// wait. stop cancels Run and waits up to 30s for it to return; it returns
// Run's error, the same on every call.
func (r *Rig) Run(o component.Output, ready time.Duration) (stop func() error) {
	r.T.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- o.Run(ctx, r.Host) }()
	if ready > 0 {
		select {
		case <-r.Host.Readied():
		case err := <-done:
			cancel()
			r.T.Fatalf("output returned before it was ready: %v", err)
		case <-time.After(ready):
			cancel()
			r.T.Fatalf("output not ready after %v", ready)
		}
	}
	stopped, serr := false, error(nil)
	stop = func() error {
		if !stopped {
			stopped = true
			cancel()
			select {
			case serr = <-done:
			case <-time.After(30 * time.Second):
				r.T.Fatal("output did not stop within 30s")
			}
		}
		return serr
	}
	r.T.Cleanup(func() { stop() })
	return stop
}

// Committed is the offset "out" committed for partition p of "app".
func (r *Rig) Committed(p int) uint64 {
	r.T.Helper()
	got, err := r.Spool.Checkpoints().Load(OutputName)
	if err != nil {
		r.T.Fatal(err)
	}
	return got[spool.Key{Stream: AppStream, Partition: p}]
}

// DeadLetters reads the dead-letter stream: the body of each dead letter →
// its reason and message.
func (r *Rig) DeadLetters() map[string][2]string {
	r.T.Helper()
	out := map[string][2]string{}
	rd := r.Host.DeadLetter.Partition(0).NewReader(0)
	buf := make([]byte, 4<<20)
	for {
		rg, err := rd.Next(4 << 20)
		if err != nil {
			return out
		}
		b := buf[:rg.Len]
		rg.File.ReadAt(b, rg.Pos)
		for len(b) > 0 {
			bt, size, err := batch.Decode(b)
			if err != nil {
				r.T.Fatal(err)
			}
			it := bt.Records()
			var rec batch.Record
			for it.Next(&rec) {
				var v [2]string
				at := rec.Attrs()
				for a, ok := at.NextAttr(); ok; a, ok = at.NextAttr() {
					switch string(a.Key) {
					case delivery.AttrDeadLetterReason:
						v[0] = string(a.Value)
					case delivery.AttrDeadLetterMessage:
						v[1] = string(a.Value)
					}
				}
				out[string(rec.Body)] = v
			}
			b = b[size:]
		}
	}
}
