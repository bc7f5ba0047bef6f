package kafka

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/capstan-agent/capstan/shipper/delivery"
	"github.com/capstan-agent/capstan/spool"
	"github.com/capstan-agent/capstan/spool/batch"
)

// oneRecord is a batch of one record of a pod's file, with a level and a
// number of its own.
func oneRecord(t *testing.T) []byte {
	t.Helper()
	var b batch.Builder
	b.ResetV2(7, baseTime, []batch.Attr{batch.StringAttr("host.name", "node-1"), batch.StringAttr("k8s.pod.name", "cart-7d9f"),
		batch.StringAttr("log.file.path", "/var/log/pods/shop_cart/0.log")})
	b.AddRecord(baseTime+5, batch.KindString, []byte(`hello "kafka"`), []batch.Attr{batch.StringAttr("level", "warn"), batch.IntAttr("n", 42)})
	return b.Bytes()
}

func TestEncode(t *testing.T) {
	for _, tc := range []struct {
		name    string
		enc     encoder
		topic   string
		key     string
		headers string
		value   string
		err     string
	}{
		{name: "json, key and headers", enc: encoder{fixed: "logs", key: "k8s.pod.name", headers: []string{"level", "k8s.*"}, json: true},
			topic: "logs", key: "cart-7d9f", headers: "k8s.pod.name=cart-7d9f level=warn",
			value: `{"ts":"2023-11-14T22:13:20.000000005Z","attrs":{"host.name":"node-1","k8s.pod.name":"cart-7d9f","log.file.path":"/var/log/pods/shop_cart/0.log","level":"warn","n":42},"body":"hello \"kafka\""}`},
		{name: "raw, every header", enc: encoder{fixed: "logs", headers: []string{"*"}},
			topic: "logs", headers: "host.name=node-1 k8s.pod.name=cart-7d9f log.file.path=/var/log/pods/shop_cart/0.log level=warn n=42",
			value: `hello "kafka"`},
		{name: "key field missing", enc: encoder{fixed: "logs", key: "k8s.container.name"}, topic: "logs", value: `hello "kafka"`},
		{name: "topic from a field", enc: encoder{topic: mustTopic(t, "logs-${level}-${log.file.path}")},
			topic: "logs-warn-_var_log_pods_shop_cart_0.log", value: `hello "kafka"`},
		{name: "topic field missing", enc: encoder{topic: mustTopic(t, "logs-${team}")}, err: "the record has no field team for the topic logs-${team}"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := &delivery.Request{}
			err := delivery.ForEachRecord(oneRecord(t), 0, spool.Key{Stream: "app"}, func(rec *delivery.Record) error {
				return tc.enc.Encode(req, rec)
			})
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			st := req.Data.(*reqState)
			if len(st.recs) != 1 {
				t.Fatalf("%d records encoded", len(st.recs))
			}
			kr := st.records(req, 1<<20)[0]
			var hs []string
			for _, h := range kr.Headers {
				hs = append(hs, h.Key+"="+string(h.Value))
			}
			if kr.Topic != tc.topic || string(kr.Key) != tc.key || strings.Join(hs, " ") != tc.headers || string(kr.Value) != tc.value {
				t.Errorf("topic %q key %q headers %q value\n%s\nwant %q %q %q\n%s", kr.Topic, kr.Key, hs, kr.Value, tc.topic, tc.key, tc.headers, tc.value)
			}
			if kr.Timestamp.UnixNano() != baseTime+5 {
				t.Errorf("timestamp %v", kr.Timestamp)
			}
			if tc.key == "" && kr.Key != nil {
				t.Errorf("key %q, want none", kr.Key)
			}
			if st.recs[0].tooBig {
				t.Errorf("a record of %d bytes is too big for 1 MiB", len(kr.Value))
			}
			if st.records(req, recordOverhead+len(kr.Value)-1); !st.recs[0].tooBig {
				t.Errorf("a record of %d bytes is not too big for %d", len(kr.Value), recordOverhead+len(kr.Value)-1)
			}
		})
	}
}

func mustTopic(t testing.TB, s string) topicTemplate {
	t.Helper()
	tt, err := parseTopic(s)
	if err != nil {
		t.Fatal(err)
	}
	return tt
}

// TestEncodeSourcePerBatch: the source fields are read once a batch, and
// a batch of another source, next in the partition, gets its own.
func TestEncodeSourcePerBatch(t *testing.T) {
	r := newRig(t, 1)
	var b batch.Builder
	for i, pod := range []string{"cart", "cart", "web", "cart"} {
		b.ResetV2(uint64(i+1), baseTime, []batch.Attr{batch.StringAttr("k8s.pod.name", pod), batch.StringAttr("k8s.namespace.name", "ns-"+pod)})
		for j := range 3 {
			var own []batch.Attr
			if i == 3 && j == 1 {
				own = []batch.Attr{batch.StringAttr("k8s.pod.name", "override")}
			}
			b.AddRecord(baseTime, batch.KindString, []byte(fmt.Sprintf("%s-%d", pod, j)), own)
		}
		if _, err := r.Stream.Partition(0).Append(context.Background(), b.Bytes()); err != nil {
			t.Fatal(err)
		}
	}
	rg, err := r.Stream.Partition(0).NewReader(0).Next(1 << 20)
	if err != nil {
		t.Fatal(err)
	}
	raw := make([]byte, rg.Len)
	rg.File.ReadAt(raw, rg.Pos)
	enc := &encoder{topic: mustTopic(t, "logs-${k8s.namespace.name}"), key: "k8s.pod.name", headers: []string{"k8s.pod.name"}}
	req := &delivery.Request{}
	var got []string
	if err := delivery.ForEachRecord(raw, 0, spool.Key{Stream: "app"}, func(rec *delivery.Record) error {
		if err := enc.Encode(req, rec); err != nil {
			return err
		}
		kr := req.Data.(*reqState).records(req, 1<<20)[0]
		got = append(got, fmt.Sprintf("%s %s %s %s", kr.Topic, kr.Key, kr.Headers[len(kr.Headers)-1].Value, kr.Value))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"logs-ns-cart cart cart cart-0", "logs-ns-cart cart cart cart-1", "logs-ns-cart cart cart cart-2",
		"logs-ns-cart cart cart cart-0", "logs-ns-cart cart cart cart-1", "logs-ns-cart cart cart cart-2",
		"logs-ns-web web web web-0", "logs-ns-web web web web-1", "logs-ns-web web web web-2",
		"logs-ns-cart cart cart cart-0", "logs-ns-cart override override cart-1", "logs-ns-cart cart cart cart-2",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
