package kafka

import (
	"context"
	"fmt"
	"github.com/capstan-agent/capstan/component/kafkaconf"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/capstan-agent/capstan/component"
	"github.com/capstan-agent/capstan/shipper/kafka/kafkatest"
)

// Records arrive with their value as body, their time, offset, key and
// headers as attributes, the topic and partition as source attributes, one
// producer per Kafka partition and the offset after a batch's last record as
// its sequence; the group's offsets are committed after the append.
func TestRecordsToSpool(t *testing.T) {
	c := kafkatest.Start(t, kafkatest.Options{Topics: map[string]int32{"logs": 3}})
	ts := time.UnixMilli(1_700_000_000_123)
	produce(t, c, "logs",
		&kgo.Record{Partition: 0, Value: []byte("plain"), Timestamp: ts},
		&kgo.Record{Partition: 1, Key: []byte("k1"), Value: []byte("keyed"), Timestamp: ts,
			Headers: []kgo.RecordHeader{{Key: "trace", Value: []byte("abc")}, {Key: "env", Value: []byte("prod")}}},
		&kgo.Record{Partition: 2, Key: []byte("gone"), Value: nil, Timestamp: ts},
		&kgo.Record{Partition: 0, Value: []byte("second"), Timestamp: ts},
	)
	sp, st := openSpool(t, t.TempDir(), 2)
	m := startMember(t, testConfig(c, "logs"), sp, st)
	waitCount(t, 4, "the four produced", st)
	waitCommitted(t, c, "capstan", "logs", 4)
	m.stop()

	recs := read(t, st)
	byBody := map[string]stored{}
	for _, r := range recs {
		byBody[r.body] = r
	}
	if len(recs) != 4 || len(byBody) != 4 {
		t.Fatalf("spool holds %d records: %+v", len(recs), recs)
	}
	for _, tc := range []struct {
		body      string
		partition string
		attrs     map[string]string
	}{
		{"plain", "0", map[string]string{AttrOffset: "0"}},
		{"second", "0", map[string]string{AttrOffset: "1"}},
		{"keyed", "1", map[string]string{AttrOffset: "0", AttrKey: "k1", AttrHeaderPrefix + "trace": "abc", AttrHeaderPrefix + "env": "prod"}},
		{"", "2", map[string]string{AttrOffset: "0", AttrKey: "gone", AttrTombstone: "true"}},
	} {
		r := byBody[tc.body]
		if r.ts != ts.UnixNano() {
			t.Errorf("%q: time %d, want %d", tc.body, r.ts, ts.UnixNano())
		}
		if !mapsEqual(r.attrs, tc.attrs) {
			t.Errorf("%q: attributes %v, want %v", tc.body, r.attrs, tc.attrs)
		}
		want := map[string]string{"host.name": "test", AttrSystem: "kafka", AttrTopic: "logs", AttrPartition: tc.partition, AttrGroup: "capstan"}
		if !mapsEqual(r.src, want) {
			t.Errorf("%q: source attributes %v, want %v", tc.body, r.src, want)
		}
		p, _ := strconv.Atoi(tc.partition)
		prod := Producer(clusterID(t, c), "logs", int32(p))
		if r.producer != prod || r.part != Target(prod, 2) {
			t.Errorf("%q: producer %x in partition %d, want %x in %d", tc.body, r.producer, r.part, prod, Target(prod, 2))
		}
		off, _ := strconv.Atoi(tc.attrs[AttrOffset])
		if r.sequence < uint64(off)+1 {
			t.Errorf("%q: batch sequence %d is not past its offset %d", tc.body, r.sequence, off)
		}
	}
	if s := m.in.Stats(); s.Records.Load() != 4 || s.Bytes.Load() != uint64(len("plain")+len("keyed")+len("second")) {
		t.Errorf("records_total %d, bytes_total %d", s.Records.Load(), s.Bytes.Load())
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func clusterID(t testing.TB, c *kafkatest.Cluster) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	md, err := kadm.NewClient(c.Client()).BrokerMetadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return md.Cluster
}

// produce writes recs to the partitions they name.
func produce(t testing.TB, c *kafkatest.Cluster, topic string, recs ...*kgo.Record) {
	t.Helper()
	cl := c.Client(kgo.RecordPartitioner(kgo.ManualPartitioner()))
	defer cl.Close()
	produceRecs(t, cl, topic, recs...)
}

// produceWith writes body(0..n-1) with cl.
func produceWith(t testing.TB, cl *kgo.Client, topic string, n int) {
	t.Helper()
	var recs []*kgo.Record
	for i := range n {
		recs = append(recs, &kgo.Record{Value: []byte(body(i))})
	}
	produceRecs(t, cl, topic, recs...)
}

func produceRecs(t testing.TB, cl *kgo.Client, topic string, recs ...*kgo.Record) {
	t.Helper()
	for _, r := range recs {
		r.Topic = topic
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("produce to %s: %v", topic, err)
	}
}

// produceN writes body(from..to-1), record i to partition i%partitions.
func produceN(t testing.TB, c *kafkatest.Cluster, topic string, partitions int32, from, to int) {
	t.Helper()
	recs := make([]*kgo.Record, 0, to-from)
	for i := from; i < to; i++ {
		recs = append(recs, &kgo.Record{Partition: int32(i) % partitions, Value: []byte(body(i))})
	}
	produce(t, c, topic, recs...)
}

// The spool's record of a partition's producer keeps records from being
// stored twice when the group's offsets are behind the spool (as after a
// crash between the append and the commit): here the offsets are rewound
// by hand, and the input skips what the spool holds.
func TestReReadIsNotStoredTwice(t *testing.T) {
	c := kafkatest.Start(t, kafkatest.Options{Topics: map[string]int32{"logs": 2}})
	produceN(t, c, "logs", 2, 0, 500)
	dir := t.TempDir()
	sp, st := openSpool(t, dir, 3)
	cfg := testConfig(c, "logs")
	cfg.BatchBytes = 1 << 10 // many batches, so a re-read lines up differently
	m := startMember(t, cfg, sp, st)
	waitCount(t, 500, "the first 500", st)
	waitCommitted(t, c, "capstan", "logs", 500)
	m.stop()

	// Rewind the group to the middle of what it read.
	adm := kadm.NewClient(c.Client())
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	rewind := kadm.Offsets{}
	rewind.AddOffset("logs", 0, 101, -1)
	rewind.AddOffset("logs", 1, 7, -1)
	if _, err := adm.CommitOffsets(ctx, "capstan", rewind); err != nil {
		t.Fatal(err)
	}
	produceN(t, c, "logs", 2, 500, 700)
	m = startMember(t, cfg, sp, st)
	waitCommitted(t, c, "capstan", "logs", 700)
	waitCount(t, 700, "all 700", st)
	m.stop()
	checkOnce(t, 700, read(t, st))
	if s := m.in.Stats(); s.Skipped.Load() != (250-101)+(250-7) {
		t.Errorf("skipped %d re-read records, want %d", s.Skipped.Load(), (250-101)+(250-7))
	}
}

// checkOnce fails unless recs hold body(0..n-1) exactly once each.
func checkOnce(t testing.TB, n int, recs []stored) (dups int) {
	t.Helper()
	seen := make([]int, n)
	for _, r := range recs {
		var i int
		if _, err := fmt.Sscanf(r.body, "rec-%d", &i); err != nil || i >= n {
			t.Fatalf("record %q was never produced", r.body)
		}
		seen[i]++
	}
	missing := 0
	for i, s := range seen {
		switch {
		case s == 0:
			if missing++; missing < 5 {
				t.Errorf("%s missing", body(i))
			}
		case s > 1:
			if dups++; dups < 5 {
				t.Errorf("%s stored %d times", body(i), s)
			}
		}
	}
	return dups
}

// topics_regex follows every matching topic, created later ones too.
func TestTopicsRegex(t *testing.T) {
	c := kafkatest.Start(t, kafkatest.Options{Topics: map[string]int32{"app-a": 1, "app-b": 2, "other": 1}})
	c.Produce("app-a", &kgo.Record{Value: []byte(body(0))})
	c.Produce("app-b", &kgo.Record{Value: []byte(body(1))})
	c.Produce("other", &kgo.Record{Value: []byte("not mine")})
	sp, st := openSpool(t, t.TempDir(), 1)
	cfg := testConfig(c)
	cfg.TopicsRegex = `^app-.*`
	cfg.MetadataMaxAge = 200 * time.Millisecond
	m := startMember(t, cfg, sp, st)
	waitCount(t, 2, "app-a and app-b", st)
	c.CreateTopic("app-c", 1, nil)
	c.Produce("app-c", &kgo.Record{Value: []byte(body(2))})
	waitCount(t, 3, "app-c, created after the start", st)
	m.stop()
	checkOnce(t, 3, read(t, st))
}

// SASL PLAIN and SCRAM: the right credentials read; a wrong password makes
// the input degraded, not failed.
func TestSASL(t *testing.T) {
	for _, mech := range []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"} {
		t.Run(mech, func(t *testing.T) {
			c := kafkatest.Start(t, kafkatest.Options{SASL: []kafkatest.SASLUser{{Mechanism: mech, User: "capstan", Password: "s3cret"}},
				Topics: map[string]int32{"logs": 1}})
			c.Produce("logs", &kgo.Record{Value: []byte(body(0))})
			sp, st := openSpool(t, t.TempDir(), 1)
			cfg := testConfig(c, "logs")
			cfg.SASL = &kafkaconf.SASL{Mechanism: mech, Username: "capstan", Password: "s3cret"}
			m := startMember(t, cfg, sp, st)
			waitCount(t, 1, "the record, authenticated", st)
			m.stop()

			sp2, st2 := openSpool(t, t.TempDir(), 1)
			cfg.SASL = &kafkaconf.SASL{Mechanism: mech, Username: "capstan", Password: "wrong"}
			bad := startMember(t, cfg, sp2, st2)
			waitState(t, bad.host, component.Degraded, "a refused login")
			bad.stop()
			if n := count(st2); n != 0 {
				t.Errorf("with a wrong password the spool got %d records", n)
			}
		})
	}
}

// A cluster that goes away makes the input degraded; when it is back the
// input runs again and reads what was produced since.
func TestUnreachableCluster(t *testing.T) {
	c := kafkatest.Start(t, kafkatest.Options{DataDir: t.TempDir(), Topics: map[string]int32{"logs": 1}})
	produceN(t, c, "logs", 1, 0, 10)
	sp, st := openSpool(t, t.TempDir(), 1)
	m := startMember(t, testConfig(c, "logs"), sp, st)
	waitCount(t, 10, "the first 10", st)
	waitCommitted(t, c, "capstan", "logs", 10)
	c.Stop()
	reason := waitState(t, m.host, component.Degraded, "the cluster stopped")
	t.Logf("degraded: %s", reason)
	c.Restart()
	produceN(t, c, "logs", 1, 10, 20)
	waitCount(t, 20, "the 10 produced after the restart", st)
	waitState(t, m.host, component.Running, "the cluster back")
	m.stop()
	checkOnce(t, 20, read(t, st))
}

// Two members of a group share a topic's partitions; a member that joins
// and one that leaves move partitions between them with nothing lost and
// nothing stored twice in the two spools together (commit after append,
// commit on revoke).
func TestRebalanceNoLossNoDuplicates(t *testing.T) {
	const parts = 6
	c := kafkatest.Start(t, kafkatest.Options{Topics: map[string]int32{"logs": parts}})
	cfg := testConfig(c, "logs")
	cfg.MaxPollRecords = 50
	spA, stA := openSpool(t, t.TempDir(), 2)
	spB, stB := openSpool(t, t.TempDir(), 2)
	a := startMember(t, cfg, spA, stA)
	total := 0
	produce := func(n int) {
		produceN(t, c, "logs", parts, total, total+n)
		total += n
	}
	produce(2000)
	waitCount(t, 1000, "a part of the first 2000", stA)
	b := startMember(t, cfg, spB, stB)
	for range 5 {
		produce(1000)
	}
	waitCount(t, uint64(total), "everything, with both members", stA, stB)
	a.stop() // leaves: b takes every partition
	for range 5 {
		produce(1000)
	}
	waitCount(t, uint64(total), "everything, after a left", stA, stB)
	waitCommitted(t, c, "capstan", "logs", int64(total))
	b.stop()
	recsA, recsB := read(t, stA), read(t, stB)
	if len(recsB) == 0 || len(recsA) == 0 {
		t.Errorf("a stored %d, b %d: the partitions were not shared", len(recsA), len(recsB))
	}
	checkOnce(t, total, append(recsA, recsB...))
}

// A value longer than max_record_bytes is cut, flagged and counted, not
// dropped.
func TestLongValueTruncated(t *testing.T) {
	c := kafkatest.Start(t, kafkatest.Options{Topics: map[string]int32{"logs": 1}})
	long := strings.Repeat("y", 100)
	produce(t, c, "logs", &kgo.Record{Value: []byte(long)}, &kgo.Record{Value: []byte("short")})
	sp, st := openSpool(t, t.TempDir(), 1)
	cfg := testConfig(c, "logs")
	cfg.MaxRecordBytes = 10
	m := startMember(t, cfg, sp, st)
	waitCount(t, 2, "a long and a short record", st)
	m.stop()
	recs := read(t, st)
	if len(recs) != 2 || recs[0].body != long[:10] || recs[0].attrs[AttrTruncated] != "true" ||
		recs[1].body != "short" || recs[1].attrs[AttrTruncated] != "" {
		t.Errorf("stored %+v", recs)
	}
	if n := m.in.Stats().Truncated.Load(); n != 1 {
		t.Errorf("truncated_records_total %d, want 1", n)
	}
}
