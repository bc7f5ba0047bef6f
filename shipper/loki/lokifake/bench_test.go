package lokifake

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/snappy"
)

// BenchmarkPush measures the fake's own cost per entry (handler only, no
// network): 1000 entries of 200 bytes in 10 streams per push, snappy
// protobuf, fresh timestamps in every push so that every entry is stored.
func BenchmarkPush(b *testing.B) {
	for _, off := range []bool{true, false} {
		b.Run(fmt.Sprintf("storage_off=%v", off), func(b *testing.B) {
			start := time.Now()
			f, err := New(Options{StorageOff: off, Now: func() time.Time { return start.Add(time.Hour) }})
			if err != nil {
				b.Fatal(err)
			}
			const per, streams = 1000, 10
			line := strings.Repeat("x", 200)
			bodies := make([][]byte, b.N) // fresh timestamps in every push
			for r := range bodies {
				ss := make([]pushStream, streams)
				for i := range per {
					ss[i%streams].labels = fmt.Sprintf(`{app="bench", n="%d"}`, i%streams)
					ts := start.Add(time.Duration(r*per+i) * time.Microsecond)
					ss[i%streams].entries = append(ss[i%streams].entries, entry(ts, line))
				}
				bodies[r] = snappy.Encode(nil, encodePush(ss...))
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				req := httptest.NewRequest(http.MethodPost, "/loki/api/v1/push", bytes.NewReader(bodies[i]))
				req.Header.Set("Content-Type", "application/x-protobuf")
				w := httptest.NewRecorder()
				f.ServeHTTP(w, req)
				if w.Code != http.StatusNoContent {
					b.Fatalf("status %d: %s", w.Code, w.Body)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*per), "ns/entry")
			if st := f.Stats(); st.Stored != int64(b.N*per) {
				b.Fatalf("stored %d of %d entries", st.Stored, b.N*per)
			}
		})
	}
}
