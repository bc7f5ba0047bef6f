package kafka

import (
	"context"
	"encoding/binary"
	"errors"
	"hash/fnv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/zap"

	"github.com/capstan-agent/capstan/component"
	"github.com/capstan-agent/capstan/spool/batch"
)

// commitTimeout bounds one offset commit (the client retries inside it).
const commitTimeout = 10 * time.Second

type topicPartition struct {
	topic     string
	partition int32
}

// partState is what the consumer knows of one Kafka partition it owns.
type partState struct {
	producer uint64
	target   component.Partition
	attrs    []batch.Attr // the batch's source attributes
	// next is the offset after the last record the spool holds for the
	// partition: a record below it was appended before (a re-read after a
	// crash) and is not appended again.
	next int64
	// commit is the offset to commit, appended and not yet committed.
	commit *kgo.EpochOffset
}

// consumer is one Run of the input: the client and what it owns.
type consumer struct {
	in     *Input
	host   component.InputHost
	parts  []component.Partition
	cl     *kgo.Client
	log    *zap.Logger
	health *health

	cluster string // the cluster's id, known before the first poll

	mu    sync.Mutex // owned is also used by the rebalance callbacks
	owned map[topicPartition]*partState

	rec          recordBuilder
	lastTruncLog time.Time
}

func newConsumer(in *Input, host component.InputHost) *consumer {
	log := in.set.Logger
	return &consumer{
		in: in, host: host, parts: host.Partitions(), log: log,
		health: &health{host: host, stats: &in.stats, log: log},
		owned:  map[topicPartition]*partState{},
		rec:    newRecordBuilder(in.cfg),
	}
}

// run learns the cluster's id, then polls, appends and commits until ctx
// ends. It returns an error only when an append failed (the agent restarts
// the input, which resumes at the committed offsets).
func (c *consumer) run(ctx context.Context) error {
	if !c.learnCluster(ctx) {
		return nil
	}
	for {
		fs := c.cl.PollRecords(ctx, c.in.cfg.MaxPollRecords)
		if fs.IsClientClosed() {
			return nil
		}
		err := c.handle(ctx, fs)
		c.commit(nil)
		c.cl.AllowRebalance()
		if err != nil {
			return err
		}
		if ctx.Err() != nil {
			return nil
		}
	}
}

// learnCluster asks the cluster for its id until it answers or ctx ends;
// the producer of a partition's batches is derived from it.
func (c *consumer) learnCluster(ctx context.Context) bool {
	adm := kadm.NewClient(c.cl)
	wait := 100 * time.Millisecond
	for {
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		md, err := adm.BrokerMetadata(rctx)
		cancel()
		if err == nil {
			c.cluster = md.Cluster
			c.log.Info("kafka cluster reached", zap.String("cluster_id", md.Cluster), zap.Int("brokers", len(md.Brokers)))
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		c.health.fetchError("", -1, err)
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return false
		}
		wait = min(2*wait, 2*time.Second)
	}
}

// handle appends the records of a poll, partition by partition.
func (c *consumer) handle(ctx context.Context, fs kgo.Fetches) error {
	clean := true
	for fi := range fs {
		for ti := range fs[fi].Topics {
			t := &fs[fi].Topics[ti]
			for pi := range t.Partitions {
				p := &t.Partitions[pi]
				if p.Err != nil {
					if errors.Is(p.Err, context.Canceled) || errors.Is(p.Err, kgo.ErrClientClosed) {
						continue
					}
					clean = false
					c.health.fetchError(t.Topic, p.Partition, p.Err)
				}
				if len(p.Records) == 0 {
					continue
				}
				if err := c.appendPartition(ctx, t.Topic, p); err != nil {
					return err
				}
			}
		}
	}
	if clean {
		c.health.ok()
	}
	return nil
}

// appendPartition appends records of one partition, in offset order, in
// batches of up to batch_bytes, each with the partition's producer and the
// offset after its last record as sequence.
func (c *consumer) appendPartition(ctx context.Context, topic string, p *kgo.FetchPartition) error {
	st := c.state(topic, p.Partition)
	recs := p.Records
	skipped := 0
	for len(recs) > 0 && recs[0].Offset < st.next {
		recs = recs[1:]
		skipped++
	}
	if skipped > 0 {
		c.in.stats.Skipped.Add(uint64(skipped))
		c.log.Info("records re-read that the spool already holds; not appended again",
			zap.String("topic", topic), zap.Int32("partition", p.Partition), zap.Int("records", skipped), zap.Int64("spool_next_offset", st.next))
		if len(recs) == 0 {
			last := p.Records[len(p.Records)-1]
			c.setCommit(st, last)
		}
	}
	maxBytes := int(c.in.cfg.BatchBytes)
	for len(recs) > 0 {
		c.rec.reset(st.producer, st.attrs)
		truncated := c.in.stats.Truncated.Load()
		n := 0
		for n < len(recs) && (n == 0 || c.rec.bld.Len() < maxBytes) {
			c.rec.add(recs[n], &c.in.stats)
			n++
		}
		last := recs[n-1]
		if cut := c.in.stats.Truncated.Load() - truncated; cut > 0 && time.Since(c.lastTruncLog) > 30*time.Second {
			c.lastTruncLog = time.Now()
			c.log.Warn("record values longer than max_record_bytes cut (flagged truncated; counted in truncated_records_total)",
				zap.String("topic", topic), zap.Int32("partition", p.Partition), zap.Uint64("records", cut),
				zap.Int64("max_record_bytes", int64(c.in.cfg.MaxRecordBytes)))
		}
		c.rec.bld.SetSequence(uint64(last.Offset) + 1)
		res, err := st.target.Append(ctx, c.rec.bld.Bytes())
		if err != nil {
			if ctx.Err() != nil {
				// Stopping while the spool is full: these records are not
				// committed, so the group reads them again.
				return nil
			}
			c.in.stats.AppendErrors.Add(1)
			c.log.Error("append to spool failed; the input restarts and reads again from the last commit",
				zap.String("topic", topic), zap.Int32("partition", p.Partition), zap.Int64("offset", recs[0].Offset), zap.Error(err))
			return err
		}
		c.in.stats.Records.Add(uint64(n))
		c.in.stats.Batches.Add(1)
		c.in.stats.DupBatches.Add(uint64(res.Duplicates))
		st.next = last.Offset + 1
		c.setCommit(st, last)
		recs = recs[n:]
	}
	return nil
}

func (c *consumer) setCommit(st *partState, last *kgo.Record) {
	c.mu.Lock()
	st.commit = &kgo.EpochOffset{Epoch: last.LeaderEpoch, Offset: last.Offset + 1}
	c.mu.Unlock()
}

// state is the partition's state, made on its first records since it was
// assigned: its producer, its spool partition, and where the spool's own
// record of the producer says it got to.
func (c *consumer) state(topic string, partition int32) *partState {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := topicPartition{topic, partition}
	if st := c.owned[k]; st != nil {
		return st
	}
	prod := Producer(c.cluster, topic, partition)
	st := &partState{producer: prod, target: c.parts[Target(prod, len(c.parts))], next: -1}
	if seq, ok := st.target.Sequence(prod); ok {
		st.next = int64(seq)
	}
	st.attrs = append(append([]batch.Attr(nil), c.in.set.Attributes...),
		batch.StringAttr(AttrSystem, "kafka"),
		batch.StringAttr(AttrTopic, topic),
		batch.StringAttr(AttrPartition, itoa(int64(partition))),
		batch.StringAttr(AttrGroup, c.in.cfg.Group),
	)
	c.owned[k] = st
	return st
}

// commit commits the offsets appended and not yet committed, of the given
// partitions (all when only is nil). A partition whose commit fails keeps
// its offset for the next try; its records are in the spool, so a failure
// costs at most a re-read (docs/inputs-kafka.md).
func (c *consumer) commit(only map[string][]int32) {
	c.mu.Lock()
	offsets := map[string]map[int32]kgo.EpochOffset{}
	for k, st := range c.owned {
		if st.commit == nil || only != nil && !contains(only[k.topic], k.partition) {
			continue
		}
		if offsets[k.topic] == nil {
			offsets[k.topic] = map[int32]kgo.EpochOffset{}
		}
		offsets[k.topic][k.partition] = *st.commit
	}
	c.mu.Unlock()
	if len(offsets) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), commitTimeout)
	defer cancel()
	failed := map[topicPartition]error{}
	c.cl.CommitOffsetsSync(ctx, offsets, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		if err != nil {
			for t, ps := range offsets {
				for p := range ps {
					failed[topicPartition{t, p}] = err
				}
			}
			return
		}
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
					failed[topicPartition{t.Topic, p.Partition}] = err
				}
			}
		}
	})
	c.mu.Lock()
	defer c.mu.Unlock()
	for t, ps := range offsets {
		for p, eo := range ps {
			k := topicPartition{t, p}
			if err, bad := failed[k]; bad {
				c.in.stats.CommitErrors.Add(1)
				c.log.Warn("kafka offset commit failed; the records are in the spool and are committed with the next ones",
					zap.String("topic", t), zap.Int32("partition", p), zap.Int64("offset", eo.Offset), zap.Error(err))
				continue
			}
			c.in.stats.Commits.Add(1)
			if st := c.owned[k]; st != nil && st.commit != nil && *st.commit == eo {
				st.commit = nil
			}
		}
	}
}

// assigned logs the partitions a rebalance gives the member; their state is
// made on their first records.
func (c *consumer) assigned(_ context.Context, _ *kgo.Client, assigned map[string][]int32) {
	c.log.Info("kafka partitions assigned", zap.Any("partitions", assigned))
}

// revoked commits what was appended of the partitions a rebalance takes
// away, before another member may read them, and forgets them. With
// BlockRebalanceOnPoll it never runs while a poll's records are being
// appended.
func (c *consumer) revoked(_ context.Context, _ *kgo.Client, revoked map[string][]int32) {
	c.commit(revoked)
	c.forget(revoked, &c.in.stats.Revoked, "kafka partitions revoked")
}

// lost forgets partitions the group took away without a revoke (a fatal
// group error): a commit would be refused.
func (c *consumer) lost(_ context.Context, _ *kgo.Client, lost map[string][]int32) {
	c.forget(lost, &c.in.stats.Lost, "kafka partitions lost; their records since the last commit may be read again by another member")
}

func (c *consumer) forget(tps map[string][]int32, n interface{ Add(uint64) uint64 }, msg string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	count := 0
	for t, ps := range tps {
		for _, p := range ps {
			delete(c.owned, topicPartition{t, p})
			count++
		}
	}
	if count > 0 {
		n.Add(uint64(count))
		c.log.Info(msg, zap.Any("partitions", tps))
	}
}

// close leaves the group (bounded: an unreachable cluster does not hold
// the stop) and closes the client.
func (c *consumer) close() {
	c.commit(nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = c.cl.LeaveGroupContext(ctx)
	c.cl.Close()
}

func contains(ps []int32, p int32) bool {
	for _, x := range ps {
		if x == p {
			return true
		}
	}
	return false
}

// Producer is the producer id of a Kafka partition's batches: the same for
// (cluster, topic, partition) in every run and on every agent, never 0, with
// the top bit clear (the forward input's ids have it set).
func Producer(cluster, topic string, partition int32) uint64 {
	h := fnv.New64a()
	h.Write([]byte("capstan-kafka\x00"))
	h.Write([]byte(cluster))
	h.Write([]byte{0})
	h.Write([]byte(topic))
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], uint32(partition))
	h.Write(b[:])
	p := h.Sum64() &^ (1 << 63)
	if p == 0 {
		p = 1
	}
	return p
}

// Target is the index of the spool partition a producer's batches go to:
// always the same one, so its dedup state lives in one place.
func Target(producer uint64, partitions int) int {
	x := producer * 0x9E3779B97F4A7C15
	return int((x >> 32) % uint64(partitions))
}
