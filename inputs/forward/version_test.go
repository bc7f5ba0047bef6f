package forward

import (
	"testing"

	"github.com/capstan-agent/capstan/spool/batch"
)

// A version 2 batch is checked and stamped like a version 1 batch and keeps
// what only version 2 carries: the observed time and typed values.
func TestStampKeepsV2Batch(t *testing.T) {
	var bld batch.Builder
	bld.ResetV2(0, 1_700_000_000_000_000_000, []batch.Attr{batch.StringAttr("input", "app")})
	bld.AddWithAttrs(1, []byte("a"), []batch.Attr{batch.IntAttr("status", 503)})
	bld.AddRecord(2, batch.KindJSON, []byte(`{"k":true}`), nil)
	b := bld.Bytes()
	batch.SetBaseOffset(b, 100)
	src := source{agent: [16]byte{1}, stream: "s", partition: 2}
	if _, _, err := checkAndStamp(b, 100, 101, src); err != nil {
		t.Fatal(err)
	}
	bt, _, err := batch.Decode(b)
	if err != nil {
		t.Fatalf("stamped batch: %v", err)
	}
	if bt.Magic != batch.MagicV2 || bt.Producer != src.producer() || bt.Sequence != 102 || bt.ObservedTime != 1_700_000_000_000_000_000 {
		t.Fatalf("header %+v, observed %d", bt.Header, bt.ObservedTime)
	}
	it := bt.Records()
	var r batch.Record
	it.Next(&r)
	ai := r.Attrs()
	if a, _ := ai.NextAttr(); a.Kind != batch.KindInt || string(a.Value) != "503" {
		t.Fatalf("attribute %s %q", a.Kind, a.Value)
	}
	it.Next(&r)
	if r.BodyKind != batch.KindJSON || string(r.Body) != `{"k":true}` {
		t.Fatalf("body %s %q", r.BodyKind, r.Body)
	}
}
