package kafka

import (
	"bytes"
	"context"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/capstan-agent/capstan/shipper/kafka/kafkatest"
)

// Records from an independent client — Debian's kcat (librdkafka): keyed,
// with headers, zstd-compressed and idempotent — arrive as franz-go's do;
// and at read_committed an aborted transaction's records never arrive.
func TestKcatAndTransactions(t *testing.T) {
	kc := kafkatest.Kcat(t)
	c := kafkatest.Start(t, kafkatest.Options{Topics: map[string]int32{"logs": 2}})
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	cmd := exec.CommandContext(ctx, kc, "-P", "-b", c.BrokerList(), "-t", "logs", "-p", "1", "-K:",
		"-H", "source=kcat", "-H", "env=test", "-z", "zstd", "-X", "enable.idempotence=true")
	cmd.Stdin = strings.NewReader("k1:" + body(0) + "\nk2:" + body(1) + "\n")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("kcat -P: %v\n%s", err, stderr.String())
	}

	txn := c.Client(kgo.TransactionalID("capstan-kin-test"), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.TransactionTimeout(10*time.Second))
	for _, tc := range []struct {
		value  string
		commit bool
	}{{body(2), true}, {"aborted", false}, {body(3), true}} {
		if err := txn.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		if err := txn.ProduceSync(ctx, &kgo.Record{Topic: "logs", Partition: 0, Value: []byte(tc.value)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
		if err := txn.EndTransaction(ctx, kgo.TransactionEndTry(tc.commit)); err != nil {
			t.Fatal(err)
		}
	}

	sp, st := openSpool(t, t.TempDir(), 1)
	m := startMember(t, testConfig(c, "logs"), sp, st)
	waitCount(t, 4, "two records from kcat and two committed transactions", st)
	// Partition 1: 2 records; partition 0: records at 0, 2 (aborted), 4, each
	// followed by its transaction marker: committed after the last record, 5.
	waitCommitted(t, c, "capstan", "logs", 2+5)
	m.stop()
	recs := read(t, st)
	checkOnce(t, 4, recs)
	var fromKcat []string
	for _, r := range recs {
		if r.src[AttrPartition] == "1" {
			fromKcat = append(fromKcat, r.attrs[AttrKey]+"="+r.body+" "+r.attrs[AttrHeaderPrefix+"source"]+","+r.attrs[AttrHeaderPrefix+"env"])
		}
	}
	slices.Sort(fromKcat)
	if want := []string{"k1=" + body(0) + " kcat,test", "k2=" + body(1) + " kcat,test"}; !slices.Equal(fromKcat, want) {
		t.Errorf("records from kcat arrived as %q, want %q", fromKcat, want)
	}
}
