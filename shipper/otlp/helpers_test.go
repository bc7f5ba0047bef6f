package otlp

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/capstan-agent/capstan/shipper/otlp/otlptest"
	"github.com/capstan-agent/capstan/spool"
	"github.com/capstan-agent/capstan/spool/batch"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// testRecord is a record of a test batch.
type testRecord struct {
	ts    int64
	kind  batch.Kind
	body  string
	attrs []batch.Attr
}

// testBatch is a batch of the spool, as an input would write it.
type testBatch struct {
	part     spool.Key
	base     uint64
	producer uint64
	sequence uint64
	observed int64 // 0: a version 1 batch
	src      []batch.Attr
	recs     []testRecord
}

func (tb testBatch) bytes(t testing.TB) []byte {
	var b batch.Builder
	if tb.observed != 0 {
		b.ResetV2(tb.producer, tb.observed, tb.src)
	} else {
		b.Reset(tb.producer, tb.src)
	}
	for _, r := range tb.recs {
		b.AddRecord(r.ts, r.kind, []byte(r.body), r.attrs)
	}
	b.SetSequence(tb.sequence)
	out := append([]byte(nil), b.Bytes()...)
	batch.SetBaseOffset(out, tb.base)
	if _, _, err := batch.Decode(out); err != nil {
		t.Fatalf("test batch does not decode: %v", err)
	}
	return out
}

// eachView calls fn with a view of every record of tb, as the engine shows
// records to the encoder.
func (tb testBatch) eachView(t testing.TB, fn func(v *view)) {
	bt, _, err := batch.Decode(tb.bytes(t))
	if err != nil {
		t.Fatal(err)
	}
	it := bt.Records()
	var r batch.Record
	for it.Next(&r) {
		fn(&view{Record: &r, src: bt.SourceAttrs(), part: tb.part, producer: bt.Producer, sequence: bt.Sequence,
			index: int(r.Offset - bt.BaseOffset), count: int(bt.Count)})
	}
}

// encodeRequest encodes the records of the batches into one request and
// returns its payload.
func encodeRequest(t testing.TB, m *mapping, batches ...testBatch) ([]byte, *reqState) {
	s := &reqState{}
	var body []byte
	for _, tb := range batches {
		tb.eachView(t, func(v *view) { body = m.encode(body, s, v) })
	}
	return m.payload(nil, body, s), s
}

// decoded decodes a payload as the receiver's records.
func decoded(t testing.TB, m *mapping, payload []byte) []otlptest.Record {
	t.Helper()
	enc := otlptest.EncodingProtobuf
	if m.json {
		enc = otlptest.EncodingJSON
	}
	req, err := otlptest.DecodeRequest(enc, payload)
	if err != nil {
		t.Fatalf("payload does not decode: %v\n%s", err, payload)
	}
	return otlptest.RecordsOf(req, 1)
}

func checkGolden(t *testing.T, name string, got []string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	text := strings.Join(got, "\n") + "\n"
	if *update {
		os.MkdirAll("testdata", 0o755)
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to write it)", err)
	}
	if string(want) != text {
		t.Errorf("%s differs:\ngot\n%s\nwant\n%s", path, text, want)
	}
}

func testMapping(json bool) *mapping {
	m := newMapping(json, DefaultResourceAttributes, DefaultSeverityFrom, true)
	m.agent = [16]byte{1, 2, 3}
	return m
}
