package process

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// fakeClock is a settable clock for throttle.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestThrottle(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1000, 0)}
	c := chainOf(t, `
- type: throttle
  rate: 2
  burst: 3
  key: 'source["k8s.namespace.name"]'
  max_keys: 2
`, Options{Now: clock.now})
	rn := c.NewRunner()
	send := func(ns string) bool {
		var r Record
		r.Reset(0, []byte("x"), src("k8s.namespace.name", ns), "s")
		return rn.Process(&r).Kept()
	}
	count := func(ns string, n int) int {
		kept := 0
		for range n {
			if send(ns) {
				kept++
			}
		}
		return kept
	}
	if k := count("a", 10); k != 3 {
		t.Fatalf("a: %d of a burst of 10 kept, want 3 (the burst)", k)
	}
	if k := count("b", 4); k != 3 {
		t.Fatalf("b has its own limit: %d of 4 kept, want 3", k)
	}
	// A third key is beyond max_keys: it shares "other".
	if k := count("c", 4) + count("d", 4); k != 3 {
		t.Fatalf("c and d share the other limit: %d of 8 kept, want 3", k)
	}
	clock.add(500 * time.Millisecond) // one interval at 2/s
	if k := count("a", 5); k != 1 {
		t.Fatalf("a after 0.5 s: %d kept, want 1", k)
	}
	clock.add(10 * time.Second)
	if k := count("a", 5); k != 3 {
		t.Fatalf("a after a quiet 10 s: %d kept, want the burst 3", k)
	}
	rn.Flush()
	info := c.Processors()[0]
	got := fmt.Sprint(info.DroppedByKey())
	if want := "[{a 13} {b 1} {other 5}]"; got != want {
		t.Fatalf("dropped by key %s, want %s", got, want)
	}
	if d := info.Stats.Dropped[ReasonThrottle].Load(); d != 19 {
		t.Fatalf("dropped %d, want 19", d)
	}
	if in, out := info.Stats.In.Load(), info.Stats.Out.Load(); in != 32 || out != 13 {
		t.Fatalf("in %d out %d, want 32 and 13", in, out)
	}
}

// TestThrottleSweep: once keys have been quiet long enough to be as new,
// they give their places to new keys instead of sending them to other.
func TestThrottleSweep(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1000, 0)}
	c := chainOf(t, "- {type: throttle, rate: 1, key: body, max_keys: 2}\n", Options{Now: clock.now})
	rn := c.NewRunner()
	send := func(key string) bool {
		var r Record
		r.Reset(0, []byte(key), nil, "s")
		return rn.Process(&r).Kept()
	}
	send("a")
	send("b")
	if !send("c") || send("c") {
		t.Fatal("c should share other's limit of 1")
	}
	clock.add(5 * time.Second)
	if !send("d") || send("d") {
		t.Fatal("d should have its own limit after the sweep")
	}
	rn.Flush()
	if got := fmt.Sprint(c.Processors()[0].DroppedByKey()); got != "[{d 1} {other 1}]" {
		t.Fatalf("dropped by key %s", got)
	}
}

func TestThrottleConcurrentRunners(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1000, 0)}
	c := chainOf(t, "- {type: throttle, rate: 100, burst: 100}\n", Options{Now: clock.now})
	var wg sync.WaitGroup
	kept := make([]int, 4)
	for g := range kept {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rn := c.NewRunner()
			defer rn.Flush()
			for range 1000 {
				var r Record
				r.Reset(0, []byte("x"), nil, "s")
				if rn.Process(&r).Kept() {
					kept[g]++
				}
			}
		}()
	}
	wg.Wait()
	total := kept[0] + kept[1] + kept[2] + kept[3]
	if total != 100 {
		t.Fatalf("%d kept by 4 runners, want the shared burst of 100", total)
	}
	st := c.Processors()[0].Stats
	if st.In.Load() != 4000 || st.Out.Load() != 100 {
		t.Fatalf("in %d out %d", st.In.Load(), st.Out.Load())
	}
}

func TestSample(t *testing.T) {
	c := chainOf(t, "- {type: sample, rate: 10, key: 'attrs.trace'}\n", Options{InputFields: []string{"trace"}})
	rn := c.NewRunner()
	kept := map[string]bool{}
	n := 0
	for i := range 5000 {
		trace := fmt.Sprintf("t%d", i%500)
		var r Record
		r.Reset(0, []byte(fmt.Sprint(i)), nil, "s", Field{Key: []byte("trace"), Value: []byte(trace)})
		k := rn.Process(&r).Kept()
		if prev, seen := kept[trace]; seen && prev != k {
			t.Fatalf("trace %s kept and dropped: the decision must depend on the key only", trace)
		}
		kept[trace] = k
		if k {
			n++
		}
	}
	// 500 keys at 1 in 10: about 50 kept (each 10 times).
	if n < 250 || n > 750 {
		t.Fatalf("%d of 5000 kept, want about 500", n)
	}
	// The hash is fixed: these decisions are what every agent makes
	// (values computed independently, from the algorithm's description).
	for key, want := range map[string]uint64{"": 0xefd01f60ba992926, "a": 0x82a2a958a9bece5b} {
		if got := sampleHash([]byte(key)); got != want {
			t.Errorf("sampleHash(%q) = %#x, want %#x", key, got, want)
		}
	}
}
