package componenttest

import (
	"sync/atomic"
	"testing"
	"time"
)

// TestQuiesceWaitsForRounds: a value that holds still is not settled until
// the progress counter advanced by Rounds while it held.
func TestQuiesceWaitsForRounds(t *testing.T) {
	var value, rounds atomic.Uint64
	value.Store(7)
	go func() {
		for range 3 {
			time.Sleep(10 * time.Millisecond)
			rounds.Add(1)
		}
	}()
	got := Quiesce(t, Quiet[uint64]{What: "the value", Observe: value.Load, Settle: time.Millisecond, Progress: rounds.Load, Rounds: 3, Deadline: 20 * time.Second})
	if got != 7 || rounds.Load() < 3 {
		t.Fatalf("settled at %d after %d rounds; want 7 after 3", got, rounds.Load())
	}
}
