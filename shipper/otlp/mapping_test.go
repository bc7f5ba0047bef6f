package otlp

import (
	"strings"
	"testing"

	"github.com/capstan-agent/capstan/shipper/otlp/otlptest"
	"github.com/capstan-agent/capstan/shipper/recordid"
	"github.com/capstan-agent/capstan/spool"
	"github.com/capstan-agent/capstan/spool/batch"
)

var (
	podPath = "/var/log/pods/shop_cart-7d9_0f0e/cart/0.log"
	podSrc  = []batch.Attr{
		batch.StringAttr("host.name", "node-1"),
		batch.StringAttr("input", "pods"),
		batch.StringAttr("k8s.container.name", "cart"),
		batch.StringAttr("k8s.namespace.name", "shop"),
		batch.StringAttr("k8s.pod.name", "cart-7d9"),
		batch.StringAttr("k8s.pod.uid", "0f0e"),
		batch.StringAttr("path", podPath),
	}
)

// richBatches: every kind of value, a Resource from Kubernetes metadata,
// severities from a parsed level and from syslog, a second Resource, a
// version 1 batch and one without producer.
func richBatches() []testBatch {
	key := spool.Key{Stream: "default", Partition: 2}
	return []testBatch{{
		part: key, base: 100, producer: 0xabc, sequence: 4096, observed: 1_700_000_000_900_000_000, src: podSrc,
		recs: []testRecord{
			{ts: 1_700_000_000_123_456_789, body: "plain line", attrs: []batch.Attr{batch.StringAttr("level", "WARN")}},
			{ts: 1_700_000_000_200_000_000, kind: batch.KindJSON, body: `{"msg":"served","http":{"status":200,"ms":1.5},"tags":["a",null,true]}`,
				attrs: []batch.Attr{
					batch.IntAttr("n", -42), batch.FloatAttr("ratio", 0.25), batch.BoolAttr("ok", true),
					batch.NullAttr("gone"), batch.JSONAttr("obj", `{"a":"\u00e9\n\"q\"","big":12345678901234567890,"neg":-1e-7,"nested":[[1],{"x":{}}]}`),
					batch.StringAttr("input", "overridden"), batch.IntAttr("level", 50),
				}},
			{ts: 1_700_000_000_300_000_000, body: "bad \xff utf8", attrs: []batch.Attr{batch.StringAttr("level", "nonsense")}},
		},
	}, {
		part: key, base: 103, producer: 0xdef, sequence: 77, // version 1: no observed time
		src: []batch.Attr{batch.StringAttr("host.name", "node-1"), batch.StringAttr("input", "syslog")},
		recs: []testRecord{{ts: 1_700_000_001_000_000_000, body: "disk full",
			attrs: []batch.Attr{batch.StringAttr("severity", "err"), batch.StringAttr("facility", "daemon"), batch.StringAttr("peer", "10.0.0.9:514")}}},
	}, {
		part: key, base: 104, producer: 0, sequence: 0, observed: 1_700_000_002_000_000_000, // UDP: no identity
		src:  []batch.Attr{batch.StringAttr("host.name", "node-1"), batch.StringAttr("input", "udp")},
		recs: []testRecord{{ts: 1_700_000_002_000_000_000, body: "datagram"}},
	}, {
		part: key, base: 105, producer: 0xabc, sequence: 8192, observed: 1_700_000_003_000_000_000, src: podSrc,
		recs: []testRecord{{ts: 1_700_000_003_000_000_000, body: "same pod again", attrs: []batch.Attr{batch.StringAttr("log.record.uid", "mine")}}},
	}}
}

// TestMappingGolden pins the LogRecords of richBatches, as the official
// protobuf types and the OTLP/JSON rules read them; both encodings give the
// same records.
func TestMappingGolden(t *testing.T) {
	var lines [2][]string
	for i, json := range []bool{false, true} {
		m := testMapping(json)
		payload, _ := encodeRequest(t, m, richBatches()...)
		for _, r := range decoded(t, m, payload) {
			lines[i] = append(lines[i], r.String())
		}
	}
	checkGolden(t, "mapping.golden", lines[0])
	if strings.Join(lines[0], "\n") != strings.Join(lines[1], "\n") {
		t.Errorf("OTLP/JSON gives other records than protobuf:\n%s\n---\n%s", strings.Join(lines[1], "\n"), strings.Join(lines[0], "\n"))
	}
}

// TestResourceGrouping: records of one Resource are in one ResourceLogs,
// whatever batches they came in; Resources keep the order first seen.
func TestResourceGrouping(t *testing.T) {
	for _, json := range []bool{false, true} {
		m := testMapping(json)
		payload, s := encodeRequest(t, m, richBatches()...)
		if s.ngroups != 2 {
			t.Fatalf("json=%v: %d groups, want 2 (the pod's, the node's)", json, s.ngroups)
		}
		enc := otlptest.EncodingProtobuf
		if json {
			enc = otlptest.EncodingJSON
		}
		req, err := otlptest.DecodeRequest(enc, payload)
		if err != nil {
			t.Fatal(err)
		}
		var got []int
		for _, rl := range req.ResourceLogs {
			n := 0
			for _, sl := range rl.ScopeLogs {
				if sl.Scope.GetName() != "capstan" {
					t.Errorf("scope %q", sl.Scope.GetName())
				}
				n += len(sl.LogRecords)
			}
			got = append(got, n)
		}
		if len(got) != 2 || got[0] != 4 || got[1] != 2 {
			t.Errorf("json=%v: records per ResourceLogs %v, want [4 2]", json, got)
		}
	}
}

// TestRecordUID: a record's uid depends on where it came from, not on the
// request it is in nor on the spool offset; producer 0 gets the producer a
// core would stamp.
func TestRecordUID(t *testing.T) {
	m := testMapping(false)
	uids := func(tb testBatch) []string {
		payload, _ := encodeRequest(t, m, tb)
		var out []string
		for _, r := range decoded(t, m, payload) {
			out = append(out, r.Attributes.Str(AttrRecordUID))
		}
		return out
	}
	b := richBatches()[0]
	first := uids(b)
	moved := b
	moved.base, moved.part = 9000, spool.Key{Stream: "core", Partition: 0} // another spool, same source batch
	again := uids(moved)
	for i := range first {
		if len(first[i]) != 26 || first[i] != again[i] {
			t.Errorf("record %d: uid %q, then %q in another spool", i, first[i], again[i])
		}
		for j := range i {
			if first[i] == first[j] {
				t.Errorf("records %d and %d share uid %s", i, j, first[i])
			}
		}
	}
	// A producer-0 batch on the edge and the same batch stamped by a core.
	udp := richBatches()[2]
	edge := uids(udp)
	stamped := udp
	stamped.producer = recordid.DerivedProducer(m.agent, udp.part.Stream, udp.part.Partition)
	stamped.sequence = udp.base + 1
	stamped.base, stamped.part = 5, spool.Key{Stream: "from-edges", Partition: 7}
	if core := uids(stamped); edge[0] != core[0] {
		t.Errorf("uid on the edge %s, after a core stamped the batch %s", edge[0], core[0])
	}
	if !strings.HasPrefix(first[0], "01HF") { // 1700000000123 ms
		t.Errorf("uid %s does not start with the record's time", first[0])
	}
}

func TestSeverityOf(t *testing.T) {
	for _, tc := range []struct {
		a    batch.Attr
		want int32
	}{
		{batch.StringAttr("", "info"), 9}, {batch.StringAttr("", "INFO"), 9}, {batch.StringAttr("", "Warning"), 13},
		{batch.StringAttr("", "err"), 17}, {batch.StringAttr("", "crit"), 18}, {batch.StringAttr("", "alert"), 21},
		{batch.StringAttr("", "emerg"), 22}, {batch.StringAttr("", "notice"), 10}, {batch.StringAttr("", "debug"), 5},
		{batch.StringAttr("", "trace"), 1}, {batch.StringAttr("", "fatal"), 21}, {batch.StringAttr("", "informational"), 9},
		{batch.IntAttr("", 30), 9}, {batch.IntAttr("", 60), 21}, {batch.IntAttr("", 35), 0}, {batch.IntAttr("", 3), 0},
		{batch.StringAttr("", ""), 0}, {batch.StringAttr("", "verbose-ish-long-word"), 0}, {batch.BoolAttr("", true), 0},
	} {
		if got := severityOf(tc.a); got != tc.want {
			t.Errorf("severityOf(%s %q) = %d, want %d", tc.a.Kind, tc.a.Value, got, tc.want)
		}
	}
}

// TestEndLen: lengths that need fewer or more bytes than reserved.
func TestEndLen(t *testing.T) {
	for _, n := range []int{0, 1, 127, 128, 300, 16383, 16384, 70000} {
		for _, reserve := range []int{1, 2} {
			b, start := beginLen([]byte{0xEE}, 5, reserve)
			for i := range n {
				b = append(b, byte(i))
			}
			b = endLen(b, start, reserve)
			// tag, varint n, content
			if b[0] != 0xEE || b[1] != 5<<3|2 {
				t.Fatalf("n=%d reserve=%d: prefix %x", n, reserve, b[:2])
			}
			got, k := uvarint(b[2:])
			if got != n || len(b) != 2+k+n {
				t.Fatalf("n=%d reserve=%d: length %d (%d bytes), total %d", n, reserve, got, k, len(b))
			}
			for i := range n {
				if b[2+k+i] != byte(i) {
					t.Fatalf("n=%d reserve=%d: content moved wrong at %d", n, reserve, i)
				}
			}
		}
	}
}

func uvarint(b []byte) (int, int) {
	x, s := 0, 0
	for i, c := range b {
		x |= int(c&0x7f) << s
		if c < 0x80 {
			return x, i + 1
		}
		s += 7
	}
	return 0, 0
}
