package componenttest

import (
	"fmt"
	"testing"
	"time"
)

// WaitFor polls cond until it holds; after within it fails the test saying
// what it waited for.
func WaitFor(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s", within, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// Quiet describes a negative check: that something stops changing (no
// more lines arrive, a blocked reader reads nothing more). A bare sleep
// cannot say that: it only guesses how long the system under test needs to
// act. Quiesce instead waits until Observe's value has held both for Settle
// and while Progress — a counter the system under test advances as it works
// (scans, polls, heartbeats) — advanced by at least Rounds.
type Quiet[T comparable] struct {
	What     string        // what is watched, for the failure message
	Observe  func() T      // the thing of interest
	Settle   time.Duration // how long it must hold at least
	Progress func() uint64 // nil: Settle alone
	Rounds   uint64        // how far Progress must advance while it holds
	Deadline time.Duration // 0: 60s
}

// Quiesce waits until q's value settles, as Quiet says, and returns it; it
// fails the test if the value does not settle within q.Deadline.
func Quiesce[T comparable](t testing.TB, q Quiet[T]) T {
	t.Helper()
	if q.Deadline == 0 {
		q.Deadline = time.Minute
	}
	progress := q.Progress
	if progress == nil {
		progress = func() uint64 { return 0 }
		q.Rounds = 0
	}
	start := time.Now()
	v, since, from := q.Observe(), start, progress()
	for {
		time.Sleep(time.Millisecond)
		if nv := q.Observe(); nv != v {
			v, since, from = nv, time.Now(), progress()
			if time.Since(start) > q.Deadline {
				t.Fatalf("waited %v for %s to settle; it still changes (now %v)", q.Deadline, q.What, describe(v))
			}
			continue
		}
		held, rounds := time.Since(since), progress()-from
		if held >= q.Settle && rounds >= q.Rounds {
			return v
		}
		if time.Since(start) > q.Deadline {
			t.Fatalf("waited %v for %s to settle (hold %v over %d rounds); it held %v (%v) over %d rounds",
				q.Deadline, q.What, q.Settle, q.Rounds, held.Round(time.Millisecond), describe(v), rounds)
		}
	}
}

func describe(v any) string { return fmt.Sprintf("%+v", v) }
