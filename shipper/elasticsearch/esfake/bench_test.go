package esfake

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// BenchmarkBulk measures the fake's own cost per item (handler only, no
// network), so that a benchmark of an output knows what the fake takes.
func BenchmarkBulk(b *testing.B) {
	for _, off := range []bool{true, false} {
		b.Run(fmt.Sprintf("storage_off=%v", off), func(b *testing.B) {
			f, err := New(Options{StorageOff: off})
			if err != nil {
				b.Fatal(err)
			}
			const per = 1000
			msg := strings.Repeat("x", 140)
			// One body whose ids carry a request number rewritten in place, so
			// that every item is a fresh create.
			var body bytes.Buffer
			var at []int
			for i := range per {
				fmt.Fprintf(&body, "{\"create\":{\"_index\":\"logs-2024.05.01\",\"_id\":\"")
				at = append(at, body.Len())
				fmt.Fprintf(&body, "00000000-%04d\"}}\n{\"@timestamp\":\"2024-05-01T10:00:00.123Z\",\"message\":\"%s\",\"n\":%d}\n", i, msg, i)
			}
			buf := body.Bytes()
			b.SetBytes(int64(len(buf)))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				stamp := fmt.Appendf(nil, "%08d", i)
				for _, p := range at {
					copy(buf[p:], stamp)
				}
				// The elasticsearch output's filter_path.
				req := httptest.NewRequest(http.MethodPost, "/_bulk?filter_path=errors,items.*.status,items.*.error.type,items.*.error.reason", bytes.NewReader(buf))
				req.Header.Set("Content-Type", "application/x-ndjson")
				w := httptest.NewRecorder()
				f.ServeHTTP(w, req)
				if w.Code != 200 || !bytes.HasPrefix(w.Body.Bytes(), []byte(`{"errors":false,"items":[{"create":{"status":201}}`)) {
					b.Fatalf("status %d: %.300s", w.Code, w.Body.Bytes())
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*per), "ns/item")
		})
	}
}
