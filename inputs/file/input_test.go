package file

import (
	"os"
	"strings"
	"testing"
	"time"
)

func TestTailBasic(t *testing.T) {
	h := newHarness(t, Config{Include: []string{"$LOGS/*.log"}}, 2)
	writeFile(t, h.path("a.log"), numbered("a", 0, 100))
	writeFile(t, h.path("b.log"), numbered("b", 0, 50)+"b-50 partial")
	writeFile(t, h.path("c.txt"), "not included\n")
	h.start()
	h.waitCount(150)
	appendFile(t, h.path("b.log"), " done\n"+numbered("b", 51, 60))
	appendFile(t, h.path("a.log"), numbered("a", 100, 200))
	recs := h.waitCount(259)
	var bs []rec
	var as []rec
	for _, r := range recs {
		if strings.HasPrefix(r.body, "b") {
			bs = append(bs, r)
		} else {
			as = append(as, r)
		}
	}
	if bs[50].body != "b-50 partial done" {
		t.Fatalf("held line: %q", bs[50].body)
	}
	bs[50].body = "b-50"
	checkExactlyOnce(t, as, map[string]int{"a": 200})
	checkExactlyOnce(t, bs, map[string]int{"b": 60})
	if as[0].attrs["log.file.path"] != h.path("a.log") || as[0].attrs["input"] != "files" {
		t.Fatalf("attrs %v", as[0].attrs)
	}
	h.stop()
	if _, err := os.Stat(h.sp.PositionsPath("files")); err != nil {
		t.Fatalf("positions not written: %v", err)
	}
}

func TestRestartResumes(t *testing.T) {
	h := newHarness(t, Config{Include: []string{"$LOGS/*.log"}}, 1)
	writeFile(t, h.path("a.log"), numbered("a", 0, 100))
	h.start()
	h.waitCount(100)
	h.restart()
	appendFile(t, h.path("a.log"), numbered("a", 100, 150))
	h.waitCount(150)
	checkExactlyOnce(t, h.settled("the records after the restart", 2*h.cfg.PollInterval), map[string]int{"a": 150})
}

func TestStartAtEnd(t *testing.T) {
	h := newHarness(t, Config{Include: []string{"$LOGS/*.log"}, StartAt: "end"}, 1)
	writeFile(t, h.path("old.log"), numbered("old", 0, 10))
	h.start()
	// After the first scan, a new file is read from its start.
	waitWithin(t, 60*time.Second, "the first scan to track old.log", func() bool { return h.in.Stats().FilesTracked.Load() >= 1 })
	writeFile(t, h.path("new.log"), numbered("new", 0, 5))
	h.waitCount(5)
	appendFile(t, h.path("old.log"), numbered("old", 10, 12))
	recs := h.waitCount(7)
	var olds []rec
	for _, r := range recs {
		if strings.HasPrefix(r.body, "old") {
			olds = append(olds, r)
		}
	}
	if len(olds) != 2 || olds[0].body != "old-10" {
		t.Fatalf("start_at end read %q", bodies(olds))
	}
}

// TestJSONInvalidCounted: JSON lines that do not parse are kept, marked
// with json_error and counted; the others take the time they state.
func TestJSONInvalidCounted(t *testing.T) {
	h := newHarness(t, Config{Include: []string{"$LOGS/*.log"}, Format: "json"}, 1)
	writeFile(t, h.path("a.log"), `{"ts":1700000000.5,"msg":"zap"}`+"\n"+`{"msg":"cut`+"\n"+`plain`+"\n")
	h.start()
	recs := h.waitCount(3)
	if want := time.Unix(1700000000, 500_000_000).UnixNano(); recs[0].ts != want || recs[0].attrs["json_error"] != "" {
		t.Errorf("zap line: ts %d attrs %v, want ts %d and no json_error", recs[0].ts, recs[0].attrs, want)
	}
	for i, want := range []string{"unexpected end", "syntax error"} {
		if got := recs[i+1].attrs["json_error"]; got != want {
			t.Errorf("%q: json_error %q, want %q", recs[i+1].body, got, want)
		}
	}
	h.waitFor("2 invalid lines counted", func([]rec) bool { return h.in.Stats().Invalid.Load() == 2 })
}
