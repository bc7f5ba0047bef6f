package delivery

import (
	"context"
	"errors"
	"sync"
	"testing"
)

// scriptedStream is a stream whose connections break on cue: every
// breakEvery-th write is taken by the peer but never acknowledged.
type scriptedStream struct {
	mu         sync.Mutex
	conns      [][]uint64 // offsets received, per connection
	open       bool
	writes     int
	breakEvery int
	unacked    []*Request
	maxAhead   int
	broken     bool
}

func (s *scriptedStream) Write(_ context.Context, req *Request) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.open {
		s.conns = append(s.conns, nil)
		s.open, s.broken = true, false
	}
	s.writes++
	c := len(s.conns) - 1
	for i := 0; i < req.Len(); i++ {
		s.conns[c] = append(s.conns[c], req.Offset(i))
	}
	s.unacked = append(s.unacked, req)
	s.maxAhead = max(s.maxAhead, len(s.unacked))
	if s.writes%s.breakEvery == 0 {
		s.broken = true
	}
	return nil
}

func (s *scriptedStream) Acked(_ context.Context, req *Request) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.unacked) == 0 || s.unacked[0] != req {
		return errors.New("acked out of order")
	}
	if s.broken {
		s.open, s.unacked = false, nil
		return Failure("connection", errors.New("connection reset by peer"))
	}
	s.unacked = s.unacked[1:]
	return nil
}

// A stream that breaks again and again: every request written and not
// acknowledged is written again, in order, on the next connection; at most
// concurrency requests are ahead; everything arrives, in order on each
// connection.
func TestStreamBreaks(t *testing.T) {
	r := newRig(t, 1)
	r.add(0, 0, 1000, 10, "a", nil)
	st := &scriptedStream{breakEvery: 7}
	e := NewStream(settings(), opts(func(o *Options) { o.Concurrency = 3; o.Batch.MaxRecords = 20 }), lineEncoder{}, st)
	run := r.run(e)
	waitFor(t, "checkpoint at 1000", func() bool { return r.committed(0) == 1000 })
	run.stop()
	st.mu.Lock()
	defer st.mu.Unlock()
	seen := map[uint64]bool{}
	for c, offs := range st.conns {
		for i, o := range offs {
			if i > 0 && o != offs[i-1]+1 {
				t.Fatalf("connection %d: offset %d after %d", c, o, offs[i-1])
			}
			seen[o] = true
		}
	}
	if len(seen) != 1000 {
		t.Fatalf("%d of 1000 records arrived", len(seen))
	}
	if st.maxAhead > 3 {
		t.Errorf("%d requests written ahead, concurrency is 3", st.maxAhead)
	}
	if len(st.conns) < 10 {
		t.Errorf("only %d connections: the script did not break the stream", len(st.conns))
	}
	if n := e.Stats().Failures("connection"); n == 0 {
		t.Error("breaks not counted")
	}
}
