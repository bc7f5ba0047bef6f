package kafkatest

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

const waitFor = 30 * time.Second

func rec(partition int32, value string) *kgo.Record {
	return &kgo.Record{Partition: partition, Value: []byte(value)}
}

// txnProducer returns a transactional producer that writes to the
// partition each record names.
func txnProducer(t *testing.T, c *Cluster, id string) *kgo.Client {
	t.Helper()
	return c.Client(
		kgo.TransactionalID(id),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.TransactionTimeout(10*time.Second),
	)
}

// transaction writes recs in one transaction and commits or aborts it.
func transaction(t *testing.T, cl *kgo.Client, topic string, commit bool, recs ...*kgo.Record) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		r.Topic = topic
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := cl.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
		t.Fatal(err)
	}
}

// The two isolation levels see what Kafka says they see: committed and
// non-transactional records only, or everything up to the high watermark.
func TestReadAllIsolation(t *testing.T) {
	c := Start(t, Options{Brokers: 3, Topics: map[string]int32{"logs": 3}})
	p := txnProducer(t, c, "capstan-test-1")
	transaction(t, p, "logs", true, rec(0, "a1"), rec(1, "a2"))
	transaction(t, p, "logs", false, rec(0, "b1"), rec(2, "b2"))
	transaction(t, p, "logs", true, rec(0, "c1"))
	c.Produce("logs", rec(0, "d1")) // outside any transaction, to whichever partition

	committed := Values(c.ReadAll("logs", ReadCommitted, waitFor))
	all := Values(c.ReadAll("logs", ReadUncommitted, waitFor))
	if !containsInOrder(committed, "a1", "c1") || slices.Contains(committed, "b1") || slices.Contains(committed, "b2") ||
		!slices.Contains(committed, "a2") || !slices.Contains(committed, "d1") || len(committed) != 4 {
		t.Errorf("read_committed saw %q", committed)
	}
	if !containsInOrder(all, "a1", "b1", "c1") || !slices.Contains(all, "b2") || len(all) != 6 {
		t.Errorf("read_uncommitted saw %q", all)
	}

	// A transaction left open: read_committed stops before it, read_uncommitted
	// shows it.
	open := txnProducer(t, c, "capstan-test-open")
	if err := open.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if err := open.ProduceSync(ctx, &kgo.Record{Topic: "logs", Partition: 1, Value: []byte("e1")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if got := Values(c.ReadAll("logs", ReadCommitted, waitFor)); !slices.Equal(got, committed) {
		t.Errorf("read_committed with a transaction open saw %q, want %q", got, committed)
	}
	if got := Values(c.ReadAll("logs", ReadUncommitted, waitFor)); !slices.Contains(got, "e1") {
		t.Errorf("read_uncommitted with a transaction open saw %q, no e1", got)
	}
	c.CreateTopic("empty", 2, nil)
	if got := c.ReadAll("empty", ReadCommitted, waitFor); got != nil {
		t.Errorf("an empty topic read %d records", len(got))
	}
}

func containsInOrder(s []string, want ...string) bool {
	i := 0
	for _, v := range s {
		if i < len(want) && v == want[i] {
			i++
		}
	}
	return i == len(want)
}

// A consumer group's committed offsets outlive its members, and a member of
// a new client resumes after them.
func TestConsumerGroupResumes(t *testing.T) {
	c := Start(t, Options{})
	c.CreateTopic("in", 2, map[string]string{"retention.ms": "-1"})
	for i := range 6 {
		c.Produce("in", rec(int32(i%2), fmt.Sprint("m", i)))
	}
	consume := func(n int) []string {
		cl, err := kgo.NewClient(append(c.ClientOpts(), kgo.ConsumerGroup("cores"), kgo.ConsumeTopics("in"),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit(),
			kgo.SessionTimeout(time.Second), kgo.HeartbeatInterval(200*time.Millisecond),
			kgo.RebalanceTimeout(5*time.Second))...)
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close() // leaves the group before the next member joins
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		var got []string
		for len(got) < n {
			fs := cl.PollFetches(ctx)
			if ctx.Err() != nil {
				t.Fatalf("group consumer got %q in %v, want %d records", got, waitFor, n)
			}
			fs.EachError(func(tp string, p int32, err error) { t.Fatalf("fetch %s/%d: %v", tp, p, err) })
			fs.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
		}
		if err := cl.CommitUncommittedOffsets(ctx); err != nil {
			t.Fatal(err)
		}
		return got
	}
	first := consume(6)
	c.Produce("in", rec(0, "m6"), rec(1, "m7"))
	second := consume(2)
	slices.Sort(first)
	slices.Sort(second)
	if !slices.Equal(first, []string{"m0", "m1", "m2", "m3", "m4", "m5"}) || !slices.Equal(second, []string{"m6", "m7"}) {
		t.Errorf("first member read %q, the next %q", first, second)
	}
}

// A cluster started with a data dir and stopped comes back with its records;
// a killed one is gone, and its clients see it down.
func TestStopRestartKeepsData(t *testing.T) {
	c := Start(t, Options{DataDir: t.TempDir(), Topics: map[string]int32{"logs": 1}})
	p := txnProducer(t, c, "capstan-restart")
	transaction(t, p, "logs", true, rec(0, "before"))
	brokers, pid := c.BrokerList(), c.PID()
	c.Stop()
	c.Restart()
	if c.BrokerList() != brokers || c.PID() == pid {
		t.Fatalf("restarted at %s pid %d, was %s pid %d", c.BrokerList(), c.PID(), brokers, pid)
	}
	transaction(t, p, "logs", true, rec(0, "after"))
	if got := Values(c.ReadAll("logs", ReadCommitted, waitFor)); !slices.Equal(got, []string{"before", "after"}) {
		t.Errorf("after a restart read %q", got)
	}
	c.Kill()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := c.Client().Ping(ctx); err == nil {
		t.Error("a killed cluster answered a ping")
	}
}

func TestSASL(t *testing.T) {
	for _, mech := range []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"} {
		t.Run(mech, func(t *testing.T) {
			c := Start(t, Options{SASL: []SASLUser{{mech, "capstan", "s3cret"}}, Topics: map[string]int32{"logs": 1}})
			c.Produce("logs", rec(0, "authenticated"))
			if got := Values(c.ReadAll("logs", ReadUncommitted, waitFor)); !slices.Equal(got, []string{"authenticated"}) {
				t.Errorf("read %q", got)
			}
			// A client without credentials is refused.
			cl, err := kgo.NewClient(kgo.SeedBrokers(c.Brokers...))
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := cl.Ping(ctx); err == nil {
				t.Error("a client without SASL was answered")
			}
		})
	}
}
