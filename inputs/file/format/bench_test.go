package format

import "testing"

func benchDecoder(b *testing.B, kind Kind, line string) {
	d := NewDecoder(Options{Kind: kind})
	var s countSink
	l := []byte(line)
	b.SetBytes(int64(len(l)) + 1)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		d.Line(l, 0, 1, 1, &s)
	}
}

func BenchmarkDecodeRaw(b *testing.B) {
	benchDecoder(b, Raw, "2024-01-02 03:04:05 INFO GET /api/v1/cart/items?id=1234 200 12ms user=42 trace=abcdef0123456789")
}

func BenchmarkDecodeCRI(b *testing.B) {
	benchDecoder(b, CRI, "2024-01-02T03:04:05.123456789Z stdout F GET /api/v1/cart/items?id=1234 200 12ms user=42 trace=abcdef")
}

func BenchmarkDecodeDocker(b *testing.B) {
	benchDecoder(b, Docker, `{"log":"GET /api/v1/cart/items?id=1234 200 12ms user=42 \"trace\"=abcdef\n","stream":"stdout","time":"2024-01-02T03:04:05.123456789Z"}`)
}

func BenchmarkDecodeJSON(b *testing.B) {
	benchDecoder(b, JSON, `{"level":"info","msg":"GET /api/v1/cart/items","id":1234,"status":200,"time":"2024-01-02T03:04:05.123Z"}`)
}

func BenchmarkDecodeJSONEpoch(b *testing.B) {
	benchDecoder(b, JSON, `{"level":"info","ts":1714557600.123456,"caller":"cart/api.go:42","msg":"GET /api/v1/cart/items","id":1234,"status":200}`)
}
