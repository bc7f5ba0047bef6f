package kafka

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/capstan-agent/capstan/component/conf"
	"github.com/capstan-agent/capstan/spool/batch"
)

// The producer and the spool partition of a Kafka partition are part of the
// stored data: a change would make every spool take re-read records for new
// ones. These values are pinned.
func TestProducerIsStable(t *testing.T) {
	for _, tc := range []struct {
		cluster, topic string
		partition      int32
		producer       uint64
		target         int // of 4 partitions
	}{
		{"kfake", "logs", 0, 0x4251c5b4c3af9183, 0},
		{"kfake", "logs", 1, 0x225719ac6d79d4f2, 1},
		{"", "orders", 7, 0x327f3f227803796, 0},
		{"MkU3OEVBNTcwNTJENDM2Qk", "app-logs", 11, 0x1d59b8795a72314c, 2},
	} {
		got := Producer(tc.cluster, tc.topic, tc.partition)
		if got != tc.producer || Target(got, 4) != tc.target {
			t.Errorf("Producer(%q, %q, %d) = %#x in partition %d of 4, pinned %#x in %d",
				tc.cluster, tc.topic, tc.partition, got, Target(got, 4), tc.producer, tc.target)
		}
		if got&(1<<63) != 0 {
			t.Errorf("%#x has the forward input's bit", got)
		}
	}
	if Producer("a", "bc", 1) == Producer("ab", "c", 1) {
		t.Error("cluster and topic run together")
	}
}

// Building a record allocates nothing once the buffers have grown.
func TestRecordBuilderAllocs(t *testing.T) {
	c := &Config{}
	conf.ApplyDefaults(c)
	r := newRecordBuilder(c)
	var st Stats
	rec := &kgo.Record{Key: []byte("k"), Value: []byte("a value of some length"), Timestamp: time.Now(), Offset: 123456,
		Headers: []kgo.RecordHeader{{Key: "trace", Value: []byte("abc")}, {Key: "env", Value: []byte("prod")}}}
	src := []batch.Attr{batch.StringAttr(AttrTopic, "logs")}
	fill := func() {
		r.reset(1, src)
		for range 1000 {
			r.add(rec, &st)
		}
	}
	fill()
	if n := testing.AllocsPerRun(20, fill); n != 0 {
		t.Errorf("%v allocations per batch of 1000 records", n)
	}
}
