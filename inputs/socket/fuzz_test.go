package socket

import (
	"testing"
	"time"

	"github.com/capstan-agent/capstan/inputs/socket/framing"
	"github.com/capstan-agent/capstan/spool/batch"
)

// FuzzDeliver runs any bytes through framing, syslog parsing and the batch
// builder, and checks that the batch decodes to one record per message,
// none over the size limit.
func FuzzDeliver(f *testing.F) {
	f.Add([]byte("<13>1 - h a - - [x@1 k=\"v\"] m\n<34>Oct 11 22:14:15 h su: x\nraw\n"), uint8(1))
	f.Add([]byte("12 <13>1 - - - - - -5 <1>ab"), uint8(2))
	f.Add([]byte("\x00\xff\n<999>\n<13>Nov 28 00:32:18 loc: hello"), uint8(3))
	f.Fuzz(func(t *testing.T, in []byte, fmtSel uint8) {
		const max = 64
		enc := newEncoder(format(fmtSel%4), time.UTC)
		enc.peer = []byte("127.0.0.1:1")
		fr := framing.New(framing.Auto, max)
		fr.Attach(make([]byte, framing.BufferSize(max)))
		var b batch.Builder
		b.Reset(0, []batch.Attr{batch.StringAttr("input", "fuzz")})
		now := time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)
		msgs := 0
		take := func() {
			for {
				m, cut, ok := fr.Next()
				if !ok {
					return
				}
				enc.add(&b, now, now.UnixNano(), m, cut)
				msgs++
			}
		}
		for len(in) > 0 {
			n := copy(fr.Space(), in)
			fr.Commit(n)
			in = in[n:]
			take()
		}
		fr.SetEOF()
		take()
		if msgs == 0 {
			return
		}
		bt, _, err := batch.Decode(b.Bytes())
		if err != nil {
			t.Fatalf("batch does not decode: %v", err)
		}
		it := bt.Records()
		var r batch.Record
		got := 0
		for it.Next(&r) {
			got++
			if len(r.Body) > max {
				t.Fatalf("body of %d bytes", len(r.Body))
			}
		}
		if it.Err() != nil || got != msgs {
			t.Fatalf("%d records, %d messages, err %v", got, msgs, it.Err())
		}
	})
}
