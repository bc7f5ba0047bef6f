package socket

import (
	"context"
	"strings"
	"testing"

	"github.com/capstan-agent/capstan/inputs/socket/framing"
)

// TestDeliverAllocatesNothing: framing, parsing and adding records to a
// batch cost no allocation per message once buffers have grown.
func TestDeliverAllocatesNothing(t *testing.T) {
	tests := []struct {
		format string
		line   string
	}{
		{"raw", `{"level":"info","msg":"a json line"}`},
		{"syslog", `<165>1 2003-10-11T22:14:15.003Z host app 42 ID47 [ex@32473 iut="3" a="b\"c"] hello`},
		{"syslog", `<34>Oct 11 22:14:15 host su[7]: hello`},
		{"syslog", "not syslog"},
	}
	for _, tt := range tests {
		in, err := New(Config{Name: "a", Addresses: []string{"tcp://127.0.0.1:0"}, Format: tt.format, BatchBytes: 32 << 20},
			[]Appender{nopAppender{}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		in.Close()
		input := []byte(strings.Repeat(tt.line+"\n", 200))
		fr := framing.New(framing.Auto, 1024)
		fr.Attach(make([]byte, len(input)+framing.BufferSize(1024)))
		enc := newEncoder(in.format, in.loc)
		enc.peer = []byte("127.0.0.1:5000")
		b := in.batchers[0]
		ctx := context.Background()
		round := func() {
			fr.Commit(copy(fr.Space(), input))
			if err := in.deliver(ctx, fr, enc, b); err != nil {
				t.Fatal(err)
			}
			b.mu.Lock()
			b.cur.Reset(0, b.attrs)
			b.mu.Unlock()
		}
		round()
		if allocs := testing.AllocsPerRun(50, round); allocs != 0 {
			t.Errorf("%s %q: %v allocations per 200 messages", tt.format, tt.line, allocs)
		}
	}
}
