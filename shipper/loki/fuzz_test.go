package loki

import (
	"encoding/json"
	"strings"
	"testing"

	"go.uber.org/zap"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/capstan-agent/capstan/shipper/delivery"
	"github.com/capstan-agent/capstan/shipper/loki/lokifake"
	"github.com/capstan-agent/capstan/spool"
	"github.com/capstan-agent/capstan/spool/batch"
)

// oneRecord is the view of a record with body, own attribute k=v, and
// source attribute host.name=host.
func oneRecord(t *testing.T, ts int64, body, k, v, host string, fn func(*delivery.Record)) {
	t.Helper()
	var b batch.Builder
	b.ResetV2(1, ts, []batch.Attr{batch.StringAttr("host.name", host)})
	var attrs []batch.Attr
	if k != "" {
		attrs = append(attrs, batch.StringAttr(k, v))
	}
	b.AddRecord(ts, batch.KindString, []byte(body), attrs)
	if err := delivery.ForEachRecord(b.Bytes(), 0, spool.Key{Stream: "s"}, func(r *delivery.Record) error { fn(r); return nil }); err != nil {
		t.Fatal(err)
	}
}

// decodeEntry reads back an EntryAdapter written by appendEntry.
func decodeEntry(t *testing.T, b []byte) (ts int64, line string, meta [][2]string) {
	t.Helper()
	num, typ, n := protowire.ConsumeTag(b)
	if num != 2 || typ != protowire.BytesType {
		t.Fatalf("not field 2 of StreamAdapter: %d %d", num, typ)
	}
	e, m := protowire.ConsumeBytes(b[n:])
	if m < 0 || n+m != len(b) {
		t.Fatalf("entry length: %d of %d", n+m, len(b))
	}
	var sec, nanos int64
	for len(e) > 0 {
		num, _, n := protowire.ConsumeTag(e)
		v, m := protowire.ConsumeBytes(e[n:])
		if n < 0 || m < 0 {
			t.Fatalf("entry does not parse: %x", e)
		}
		e = e[n+m:]
		switch num {
		case 1:
			for len(v) > 0 {
				f, _, n := protowire.ConsumeTag(v)
				x, m := protowire.ConsumeVarint(v[n:])
				v = v[n+m:]
				if f == 1 {
					sec = int64(x)
				} else {
					nanos = int64(int32(x))
				}
			}
		case 2:
			line = string(v)
		case 3:
			var p [2]string
			for len(v) > 0 {
				f, _, n := protowire.ConsumeTag(v)
				x, m := protowire.ConsumeBytes(v[n:])
				v = v[n+m:]
				p[f-1] = string(x)
			}
			meta = append(meta, p)
		}
	}
	if nanos < 0 || nanos >= 1e9 {
		t.Fatalf("nanos %d out of range", nanos)
	}
	return sec*1e9 + nanos, line, meta
}

// FuzzEntry: an entry decodes to the record's time, body and attributes
// (names made Loki's), the label's attribute left out.
func FuzzEntry(f *testing.F) {
	f.Add(int64(1700000000123456789), "hello", "trace.id", "abc", "h1")
	f.Add(int64(-1), "", "", "", "")
	f.Add(int64(-1500000000), "x\xff\n", "9lives", "\x00", "h\"\\")
	f.Add(int64(0), strings.Repeat("a", 300), "host.name", "own", "src")
	lb := newLabeler(map[string]string{"host": "host.name"}, nil, 10, zap.NewNop())
	enc := &encoder{labeler: lb, meta: true}
	f.Fuzz(func(t *testing.T, ts int64, body, k, v, host string) {
		oneRecord(t, ts, body, k, v, host, func(rec *delivery.Record) {
			st := &reqState{}
			gotTS, line, meta := decodeEntry(t, enc.appendEntry(nil, st, rec))
			if gotTS != ts || line != body {
				t.Errorf("entry (%d, %q), want (%d, %q)", gotTS, line, ts, body)
			}
			var want [][2]string
			if k != "" && k != "host.name" {
				want = append(want, [2]string{sanitizeName(k), v})
			}
			if len(meta) != len(want) || len(want) == 1 && meta[0] != want[0] {
				t.Errorf("metadata %q, want %q", meta, want)
			}
		})
	})
}

// FuzzLabels: any value makes a label set Loki's parser takes, with the
// value (its invalid UTF-8 replaced) as the label's; the JSON form read
// back from the set holds the same value.
func FuzzLabels(f *testing.F) {
	for _, s := range []string{"web", "", `a"b\c`, "line\nbreak\ttab", "\xff\xfe", "ünï©ødé", "\x00\x1f\x7f", `\x41`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		set := string(appendSet(nil, []label{{name: "a", static: []byte("1")}, {name: "b", static: []byte(v)}}, nil))
		want := validUTF8(v)
		wantSet := `{a="1"}`
		if v != "" {
			canon, err := lokifake.Canonical(set)
			if err != nil {
				t.Fatalf("%s: Loki's parser refuses it: %v", set, err)
			}
			wantSet = canon
		}
		if set != wantSet {
			t.Errorf("set %s, Loki's canonical form %s", set, wantSet)
		}
		var m map[string]string
		js := "{" + string(appendLabelsJSON(nil, set)) + "}"
		if err := json.Unmarshal([]byte(js), &m); err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		if v != "" && m["b"] != want || m["a"] != "1" {
			t.Errorf("JSON %s: b=%q, want %q", js, m["b"], want)
		}
	})
}

// validUTF8 is s with each byte of invalid UTF-8 replaced by U+FFFD.
func validUTF8(s string) string {
	var b strings.Builder
	for _, r := range s {
		b.WriteRune(r) // ranging yields U+FFFD for each invalid byte
	}
	return b.String()
}
