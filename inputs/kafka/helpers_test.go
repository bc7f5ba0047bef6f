package kafka

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/capstan-agent/capstan/component"
	"github.com/capstan-agent/capstan/component/componenttest"
	"github.com/capstan-agent/capstan/component/conf"
	"github.com/capstan-agent/capstan/shipper/kafka/kafkatest"
	"github.com/capstan-agent/capstan/spool"
	"github.com/capstan-agent/capstan/spool/batch"
)

// waitFor bounds every wait of these tests.
const waitFor = 60 * time.Second

// stored is a record read back from the spool.
type stored struct {
	part     int
	producer uint64
	sequence uint64
	ts       int64
	body     string
	src      map[string]string
	attrs    map[string]string
}

// testConfig is a config for the cluster with defaults and short group timers.
func testConfig(c *kafkatest.Cluster, topics ...string) *Config {
	cfg := &Config{}
	conf.ApplyDefaults(cfg)
	cfg.Brokers = []string{c.BrokerList()}
	cfg.Topics = topics
	cfg.SessionTimeout, cfg.HeartbeatInterval, cfg.RebalanceTimeout = time.Second, 100*time.Millisecond, 5*time.Second
	return cfg
}

// member is an input running over a spool of its own.
type member struct {
	t    testing.TB
	in   *Input
	host *componenttest.Host
	sp   *spool.Spool
	st   *spool.Stream
	run  *componenttest.Running
}

func openSpool(t testing.TB, dir string, partitions int) (*spool.Spool, *spool.Stream) {
	t.Helper()
	sp, err := spool.Open(dir, spool.Options{Fsync: spool.FsyncNever})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sp.Close() })
	st, err := sp.Stream("logs", spool.StreamOptions{Partitions: partitions})
	if err != nil {
		t.Fatal(err)
	}
	return sp, st
}

func startMember(t testing.TB, cfg *Config, sp *spool.Spool, st *spool.Stream) *member {
	t.Helper()
	set := componenttest.Settings(t, component.KindInput, "kafka", "kin")
	if _, bench := t.(*testing.B); !bench {
		set.Logger = zaptest.NewLogger(t, zaptest.Level(zap.InfoLevel))
	}
	set.Attributes = []batch.Attr{batch.StringAttr("host.name", "test")}
	in, err := New(set, cfg)
	if err != nil {
		t.Fatal(err)
	}
	h := componenttest.NewHost(sp, "kin")
	h.Stream = st
	return &member{t: t, in: in, host: h, sp: sp, st: st, run: componenttest.RunInput(t, in, h)}
}

func (m *member) stop() {
	m.t.Helper()
	if err := m.run.Stop(m.t); err != nil {
		m.t.Errorf("input stopped with %v", err)
	}
}

// read returns every record of the stream.
func read(t testing.TB, st *spool.Stream) []stored {
	t.Helper()
	var out []stored
	for i, p := range st.Partitions() {
		recs, err := readPartition(p, i)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, recs...)
	}
	return out
}

func readPartition(p *spool.Partition, idx int) ([]stored, error) {
	var out []stored
	r := p.NewReader(p.OldestOffset())
	buf := make([]byte, 0, 1<<20)
	for {
		rg, err := r.Next(1 << 20)
		if errors.Is(err, spool.ErrNoData) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		buf = buf[:rg.Len]
		if _, err := rg.File.ReadAt(buf, rg.Pos); err != nil && err != io.EOF {
			return out, err
		}
		for b := buf; len(b) > 0; {
			bt, size, err := batch.Decode(b)
			if err != nil {
				return out, err
			}
			src := map[string]string{}
			si := bt.SourceAttrs()
			for a, ok := si.NextAttr(); ok; a, ok = si.NextAttr() {
				src[string(a.Key)] = string(a.Value)
			}
			it := bt.Records()
			var rec batch.Record
			for it.Next(&rec) {
				s := stored{part: idx, producer: bt.Producer, sequence: bt.Sequence, ts: rec.Timestamp, body: string(rec.Body), src: src, attrs: map[string]string{}}
				ai := rec.Attrs()
				for a, ok := ai.NextAttr(); ok; a, ok = ai.NextAttr() {
					s.attrs[string(a.Key)] = string(a.Value)
				}
				out = append(out, s)
			}
			b = b[size:]
		}
	}
}

// count is how many records the stream holds.
func count(st *spool.Stream) uint64 {
	var n uint64
	for _, p := range st.Partitions() {
		n += p.NextOffset() - p.OldestOffset()
	}
	return n
}

// waitCount waits until the streams hold n records together.
func waitCount(t testing.TB, n uint64, what string, sts ...*spool.Stream) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for {
		var got uint64
		for _, st := range sts {
			got += count(st)
		}
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %d records (%s) in the spool; it holds %d", waitFor, n, what, got)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitState waits until the host's last report is s.
func waitState(t testing.TB, h *componenttest.Host, s component.State, what string) string {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for {
		got, reason := h.State()
		if got == s {
			return reason
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for the input to report %s (%s); it reports %s (%s)", waitFor, s, what, got, reason)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// committed is the group's committed offsets of topic, summed over partitions.
func committed(t testing.TB, c *kafkatest.Cluster, group, topic string) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	os, err := kadm.NewClient(c.Client()).FetchOffsets(ctx, group)
	if err != nil {
		t.Fatalf("fetch offsets of %s: %v", group, err)
	}
	var sum int64
	os.Each(func(o kadm.OffsetResponse) {
		if o.Topic == topic {
			sum += o.At
		}
	})
	return sum
}

// waitCommitted waits until the group's offsets of topic sum to n.
func waitCommitted(t testing.TB, c *kafkatest.Cluster, group, topic string, n int64) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for {
		got := committed(t, c, group, topic)
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for group %s to commit %d records of %s; it committed %d", waitFor, group, n, topic, got)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func body(i int) string { return fmt.Sprintf("rec-%06d", i) }
