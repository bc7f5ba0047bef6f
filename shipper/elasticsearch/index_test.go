package elasticsearch

import (
	"errors"
	"testing"

	"github.com/capstan-agent/capstan/spool/batch"
)

func TestIndexExpand(t *testing.T) {
	ts := int64(1_700_000_000_000_000_000) // 2023-11-14T22:13:20Z
	var b batch.Builder
	b.ResetV2(1, ts, []batch.Attr{batch.StringAttr("k8s.namespace.name", "Shop/EU"), batch.StringAttr("path", "/l/a.log")})
	b.AddRecord(ts, batch.KindString, []byte("x"), []batch.Attr{batch.StringAttr("service.name", "Cart Svc")})
	bt, _, err := batch.Decode(b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	var rec batch.Record
	it := bt.Records()
	it.Next(&rec)
	for _, tc := range []struct {
		tmpl, want string
		missing    string
	}{
		{"logs-%Y.%m.%d", "logs-2023.11.14", ""},
		{"logs-%Y.%m.%d.%H", "logs-2023.11.14.22", ""},
		{"logs-app-default", "logs-app-default", ""},
		{"logs-${service.name}", "logs-cart_svc", ""},
		{"logs-${k8s.namespace.name}-%Y", "logs-shop_eu-2023", ""},
		{"x-${log.file.path}", "x-_l_a.log", ""},
		{"logs-${team:-none}", "logs-none", ""},
		{"logs-${team}", "", "team"},
		{"100%%-$$", "100%-$", ""},
	} {
		tm, err := parseIndex(tc.tmpl)
		if err != nil {
			t.Fatalf("%s: %v", tc.tmpl, err)
		}
		got, err := tm.expand(nil, rec.Timestamp, rec.Attrs(), bt.SourceAttrs())
		var nf errNoField
		if tc.missing != "" {
			if !errors.As(err, &nf) || nf.field != tc.missing {
				t.Errorf("%s: %q, %v; want no field %s", tc.tmpl, got, err, tc.missing)
			}
			continue
		}
		if err != nil || string(got) != tc.want {
			t.Errorf("%s: %q, %v; want %q", tc.tmpl, got, err, tc.want)
		}
	}
}
