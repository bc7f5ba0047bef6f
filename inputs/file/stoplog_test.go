package file

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/capstan-agent/capstan/component/componenttest"
)

// syncBuffer is a log sink safe for the input's goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) Sync() error { return nil }

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// agentLogger is a JSON logger shaped like the one the agent gives an
// input: named, and carrying input and type.
func agentLogger(w zapcore.WriteSyncer, name, typ string) *zap.Logger {
	enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
	return zap.New(zapcore.NewCore(enc, w, zap.DebugLevel)).Named("input").
		With(zap.String("input", name), zap.String("type", typ))
}

// strictJSON decodes one JSON object, refusing duplicate keys at any depth
// (Elasticsearch and other strict consumers refuse such documents).
func strictJSON(line string) (map[string]any, error) { return componenttest.StrictJSON(line) }

func TestStrictJSON(t *testing.T) {
	for line, ok := range map[string]bool{
		`{"a":1,"b":{"a":2}}`: true,
		`{"a":1,"a":2}`:       false,
		`{"b":{"c":1,"c":2}}`: false,
		`{"a":1} {}`:          false,
	} {
		if _, err := strictJSON(line); (err == nil) != ok {
			t.Errorf("%s: %v", line, err)
		}
	}
}

// TestStopLog: a file input says what it did when it stops, and its log
// lines, under the agent's logger, are strict JSON (no key twice).
func TestStopLog(t *testing.T) {
	var out syncBuffer
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "a.log"), "one\ntwo\n"+strings.Repeat("x", 40)+"\n")
	writeFile(t, filepath.Join(dir, "b.log"), "three\n")
	part := &memPartition{}
	in, err := New(Config{Name: "files", StartAt: "beginning", Include: []string{dir + "/*.log"}, MaxLineBytes: 32},
		Target{Partitions: []Partition{part}, PositionsPath: filepath.Join(dir, "positions")}, agentLogger(&out, "files", "file"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- in.Run(ctx) }()
	waitWithin(t, time.Minute, "4 records", func() bool { return in.Stats().Records.Load() == 4 })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	var stopped map[string]any
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		m, err := strictJSON(line)
		if err != nil {
			t.Fatalf("log line %s: %v", line, err)
		}
		if m["msg"] == "stopped" {
			stopped = m
		}
	}
	if stopped == nil {
		t.Fatalf("no stop line in\n%s", out.String())
	}
	want := map[string]string{"input": "files", "type": "file", "files_tracked": "2", "records": "4",
		"bytes": "55", "unread_bytes": "0", "truncated": "1", "invalid": "0", "errors": "0"}
	for k, v := range want {
		if got := fmt.Sprint(stopped[k]); got != v {
			t.Errorf("stop line %s = %s, want %s (%v)", k, got, v, stopped)
		}
	}
}
