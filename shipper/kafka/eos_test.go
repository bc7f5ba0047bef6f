package kafka

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/capstan-agent/capstan/shipper/kafka/kafkatest"
	"github.com/capstan-agent/capstan/spool"
)

// TestExactlyOnceResumesFromKafka: the spool's checkpoint is behind what
// Kafka committed (capstan was killed between the transaction's commit and
// the checkpoint's), and a producer of the same transactional id left a
// transaction open (killed in the middle of one). The output fences that
// producer — its records are aborted — and resumes at the offset Kafka
// holds: a read_committed consumer sees every record once, in order.
func TestExactlyOnceResumesFromKafka(t *testing.T) {
	c := kafkatest.Start(t, kafkatest.Options{Topics: map[string]int32{"logs": 2}})
	r := newRig(t, 1)
	const n = 1000
	r.add(0, 0, n, 50)
	cfg := testConfig(c.Brokers, func(cfg *Config) {
		cfg.ExactlyOnce, cfg.Encoding, cfg.Batch.MaxRecords = true, EncodingRaw, 100
	})
	_, stop := r.run(cfg, true)
	waitFor(t, "the first records committed", func() bool { return r.Committed(0) == n })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	// The checkpoint goes back; a zombie of the same id opens a transaction.
	if err := r.Spool.Checkpoints().Commit("out", map[spool.Key]uint64{{Stream: "app", Partition: 0}: 300}); err != nil {
		t.Fatal(err)
	}
	zombie := c.Client(kgo.TransactionalID(TxnName(r.Spool.AgentID(), "out", spool.Key{Stream: "app", Partition: 0})),
		kgo.TransactionTimeout(10*time.Minute))
	if err := zombie.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), readFor)
	defer cancel()
	if err := zombie.ProduceSync(ctx, &kgo.Record{Topic: "logs", Key: []byte("pod-0"), Value: []byte("zombie")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	r.add(0, n, n, 50)
	r.run(cfg, true)
	waitFor(t, "every record committed", func() bool { return r.Committed(0) == 2*n })
	got := kafkatest.Values(c.ReadAll("logs", kafkatest.ReadCommitted, readFor))
	want := make([]string, 2*n)
	for i := range want {
		want[i] = body(0, i)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("read_committed sees %d records (first %q), want %d once and in order", len(got), got[:min(3, len(got))], len(want))
	}
	// read_uncommitted sees the zombie's record: it was written, and aborted.
	all := kafkatest.Values(c.ReadAll("logs", kafkatest.ReadUncommitted, readFor))
	if !slices.Contains(all, "zombie") {
		t.Errorf("read_uncommitted does not see the aborted record: %d records", len(all))
	}
}

// TestRefusedRecordsDeadLettered: a record larger than max_message_bytes
// and a record without the field the topic names go to the dead letter
// with their reasons; every other record is delivered, with and without
// exactly_once.
func TestRefusedRecordsDeadLettered(t *testing.T) {
	c := kafkatest.Start(t, kafkatest.Options{Topics: map[string]int32{"logs-shop": 1}})
	for _, eos := range []bool{false, true} {
		t.Run(fmt.Sprint("exactly_once=", eos), func(t *testing.T) {
			r := newRig(t, 1)
			big := string(make([]byte, 40<<10))
			r.addBodies(0, 0, 100, 25, func(i int) string {
				if i == 42 {
					return "big" + big
				}
				return body(0, i)
			})
			cfg := testConfig(c.Brokers, func(cfg *Config) {
				cfg.ExactlyOnce, cfg.Encoding = eos, EncodingRaw
				cfg.Topic, cfg.MaxMessageBytes = "logs-${k8s.namespace.name}", 32<<10
				cfg.Key = "k8s.pod.name"
			})
			before := len(c.ReadAll("logs-shop", kafkatest.ReadCommitted, readFor))
			r.run(cfg, true)
			waitFor(t, "every record resolved", func() bool { return r.Committed(0) == 100 })
			dl := r.deadLetters()
			if dl["big"+big] != "too_large" || len(dl) != 1 {
				t.Errorf("dead letters %d, the big one %q: want one, too_large", len(dl), dl["big"+big])
			}
			got := c.ReadAll("logs-shop", kafkatest.ReadCommitted, readFor)[before:]
			if len(got) != 99 {
				t.Errorf("%d records delivered, want 99", len(got))
			}
		})
	}
}

// TestMissingTopicField: a record without the field of the topic
// template is dead-lettered (reason encode), the others delivered.
func TestMissingTopicField(t *testing.T) {
	c := kafkatest.Start(t, kafkatest.Options{Topics: map[string]int32{"logs-shop": 1}})
	r := newRig(t, 1)
	r.add(0, 0, 10, 10)
	cfg := testConfig(c.Brokers, func(cfg *Config) { cfg.Topic, cfg.Encoding = "logs-${team}-${k8s.namespace.name}", EncodingRaw })
	cfg2 := testConfig(c.Brokers, func(cfg *Config) { cfg.Topic = "logs-${k8s.namespace.name}" })
	_, stop := r.run(cfg, true)
	waitFor(t, "every record resolved", func() bool { return r.Committed(0) == 10 })
	stop()
	if dl := r.deadLetters(); len(dl) != 10 || dl[body(0, 3)] != "encode" {
		t.Errorf("dead letters %v: want all 10 with reason encode", dl)
	}
	r.add(0, 10, 10, 10)
	r.run(cfg2, true)
	waitFor(t, "the next records delivered", func() bool { return r.Committed(0) == 20 })
	if got := c.ReadAll("logs-shop", kafkatest.ReadCommitted, readFor); len(got) != 10 {
		t.Errorf("%d records in logs-shop, want 10", len(got))
	}
}
