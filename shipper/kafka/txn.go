package kafka

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/zap"

	"github.com/capstan-agent/capstan/component"
	"github.com/capstan-agent/capstan/shipper/delivery"
	"github.com/capstan-agent/capstan/spool"
)

// txnSender writes each request in a Kafka transaction that also commits
// the offset past the request's last record, as the offset of a consumer
// group of its own, so that Kafka holds the records and where they end
// together or neither. Each partition of the spool has its own
// transactional producer: transactional id and group are both
// capstan-<agent>-<output>-<stream>-<partition>. At the start the output
// fences any earlier producer of that id (Kafka aborts what it left open)
// and resumes where the committed offset says (docs/kafka.md).
type txnSender struct {
	*client
	agent string

	mu    sync.Mutex
	parts map[spool.Key]*txnPart
}

// txnPart is the transactional producer of one partition of the spool.
type txnPart struct {
	mu        sync.Mutex
	id        string // transactional id and group
	meta      string // the commit's metadata: which partition of which spool
	cl        *kgo.Client
	stale     bool  // a transaction failed: make a new producer, read the offset again
	committed int64 // the offset committed in Kafka; -1 for none
	topicIDs  map[string][16]byte
}

// TxnName is the transactional id and the group of an output's partition.
func TxnName(agent [16]byte, output string, key spool.Key) string {
	return "capstan-" + hex.EncodeToString(agent[:]) + "-" + output + "-" + key.Stream + "-" + strconv.Itoa(key.Partition)
}

// Open makes a producer per partition, reads the offsets committed in
// Kafka and resumes there when they are past the spool's checkpoint.
// While the cluster cannot be reached it reports the output degraded and
// tries again, until ctx ends.
func (s *txnSender) Open(ctx context.Context, host component.OutputHost, resume map[spool.Key]uint64) error {
	if err := s.open(); err != nil {
		return err
	}
	agent := host.AgentID()
	s.agent = hex.EncodeToString(agent[:])
	s.parts = map[spool.Key]*txnPart{}
	for k := range resume {
		s.parts[k] = &txnPart{id: TxnName(agent, s.name, k), meta: "capstan " + s.agent + " " + k.String(), committed: -1, stale: true}
	}
	wait := s.cfg.Retry.Initial
	for k, p := range s.parts {
		for {
			ictx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
			err := s.init(ictx, p)
			cancel()
			if err == nil {
				break
			}
			err = s.explain(err)
			_, reason := classify(err)
			host.Report(component.Degraded, "kafka: "+reason)
			s.log.Warn("cannot read the offset committed in Kafka; trying again", zap.Stringer("partition", k),
				zap.String("transactional_id", p.id), zap.Error(err), zap.Duration("wait", wait))
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				s.Close()
				return fmt.Errorf("read the offset of %s committed in Kafka: %w", k, err)
			case <-t.C:
			}
			wait = min(2*wait, s.cfg.Retry.Max)
		}
		if p.committed >= 0 && uint64(p.committed) > resume[k] {
			s.log.Info("Kafka holds records past the checkpoint: resuming after them", zap.Stringer("partition", k),
				zap.Uint64("checkpoint", resume[k]), zap.Int64("kafka", p.committed))
			resume[k] = uint64(p.committed)
		}
	}
	host.Report(component.Running, "")
	return nil
}

// init makes p's producer anew: its InitProducerID fences every earlier
// producer of the id and ends what it left open, so the offset read after
// it is final.
func (s *txnSender) init(ctx context.Context, p *txnPart) error {
	if p.cl != nil {
		p.cl.Close()
		p.cl = nil
	}
	cl, err := kgo.NewClient(append(s.opts[:len(s.opts):len(s.opts)],
		kgo.TransactionalID(p.id), kgo.TransactionTimeout(s.cfg.TransactionTimeout))...)
	if err != nil {
		return fmt.Errorf("kafka client: %w", err)
	}
	if _, _, err := cl.ProducerID(ctx); err != nil {
		cl.Close()
		return fmt.Errorf("init producer %s: %w", p.id, err)
	}
	off, err := committedOffset(ctx, cl, p.id)
	if err != nil {
		cl.Close()
		return err
	}
	p.cl, p.committed, p.stale = cl, off, false
	return nil
}

// committedOffset is the highest offset group holds (the topic it is
// committed under is the one its transaction wrote to), -1 for none. It
// waits for commits of transactions still being completed.
func committedOffset(ctx context.Context, cl *kgo.Client, group string) (int64, error) {
	adm := kadm.NewClient(cl)
	for {
		resp, err := adm.FetchOffsets(kadm.RequireStable(ctx), group)
		if err == nil {
			err = resp.Error()
		}
		if errors.Is(err, kerr.UnstableOffsetCommit) || errors.Is(err, kerr.CoordinatorLoadInProgress) {
			t := time.NewTimer(20 * time.Millisecond)
			select {
			case <-ctx.Done():
				t.Stop()
				return 0, fmt.Errorf("offsets of group %s: %w", group, err)
			case <-t.C:
			}
			continue
		}
		if errors.Is(err, kerr.GroupIDNotFound) {
			return -1, nil // nothing committed yet (kfake says so; Kafka answers no offsets)
		}
		if err != nil {
			return 0, fmt.Errorf("offsets of group %s: %w", group, err)
		}
		off := int64(-1)
		resp.Each(func(o kadm.OffsetResponse) { off = max(off, o.At) })
		return off, nil
	}
}

// Close closes every producer.
func (s *txnSender) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.parts {
		// A send that outlived the drain ends soon: its context is done.
		p.mu.Lock()
		if p.cl != nil {
			p.cl.Close()
			p.cl = nil
		}
		p.mu.Unlock()
	}
	return nil
}

func (s *txnSender) part(k spool.Key) *txnPart {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.parts[k]
}

// Send writes the request in one transaction that commits req.Next() too.
// After a failure the producer is made again and the offset read back, so
// a transaction whose commit was not answered is found committed (its
// records then count as duplicates avoided) or aborted (sent again).
func (s *txnSender) Send(ctx context.Context, req *delivery.Request) delivery.Result {
	p := s.part(req.Partition())
	if p == nil {
		return delivery.Retry("closed", fmt.Errorf("no producer for partition %s", req.Partition()))
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stale || p.cl == nil {
		if err := s.init(ctx, p); err != nil {
			p.stale = true
			return s.result(err)
		}
	}
	st := req.Data.(*reqState)
	next := int64(req.Next())
	if p.committed >= next {
		for i := range req.Len() {
			req.DuplicateRecord(i)
		}
		return delivery.Delivered()
	}
	for i := range st.recs {
		st.recs[i].dup = p.committed >= 0 && int64(req.Offset(i)) < p.committed
		if st.recs[i].dup {
			req.DuplicateRecord(i)
		}
	}
	if err := p.cl.BeginTransaction(); err != nil {
		p.stale = true
		return s.result(fmt.Errorf("begin transaction: %w", err))
	}
	produce(ctx, p.cl, req, st, int(s.cfg.MaxMessageBytes))
	topic, failed := "", error(nil)
	for i, err := range st.results {
		switch {
		case st.recs[i].tooBig || st.recs[i].dup:
		case err != nil && failed == nil:
			failed = err
		case err == nil && topic == "":
			topic = st.recs[i].topic
		}
	}
	if failed == nil && topic == "" {
		// Nothing produced (every record too large, or already in Kafka):
		// no transaction began; the engine dead-letters what was marked.
		p.cl.EndTransaction(ctx, kgo.TryAbort)
		return delivery.Delivered()
	}
	if failed == nil {
		failed = commitOffset(ctx, p, topic, next)
	}
	if failed != nil {
		s.abort(ctx, p)
		if v, _ := classify(failed); v == tooLarge && req.Len() == 1 {
			return delivery.Reject("too_large", failed)
		}
		return s.result(failed)
	}
	if err := p.cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		// The commit may have happened: the next attempt reads the offset.
		p.stale = true
		return s.result(fmt.Errorf("commit transaction: %w", err))
	}
	p.committed = next
	return delivery.Delivered()
}

// abort ends a failed transaction; the producer is made again before the
// next one.
func (s *txnSender) abort(ctx context.Context, p *txnPart) {
	p.stale = true
	if err := p.cl.AbortBufferedRecords(ctx); err == nil {
		p.cl.EndTransaction(ctx, kgo.TryAbort)
	}
}

// commitOffset adds offset next, the spool offset past the transaction's
// records, to p's transaction: the offset of partition 0 of topic (one the
// transaction wrote to, so that it exists) in p's group.
func commitOffset(ctx context.Context, p *txnPart, topic string, next int64) error {
	id, epoch, err := p.cl.ProducerID(ctx)
	if err != nil {
		return fmt.Errorf("producer id: %w", err)
	}
	add := kmsg.NewPtrAddOffsetsToTxnRequest()
	add.TransactionalID, add.ProducerID, add.ProducerEpoch, add.Group = p.id, id, epoch, p.id
	if err := retryConcurrent(ctx, func() error {
		resp, err := add.RequestWith(ctx, p.cl)
		if err != nil {
			return err
		}
		return kerr.ErrorForCode(resp.ErrorCode)
	}); err != nil {
		return fmt.Errorf("add offsets to transaction: %w", err)
	}
	commit := kmsg.NewPtrTxnOffsetCommitRequest()
	commit.TransactionalID, commit.Group, commit.ProducerID, commit.ProducerEpoch = p.id, p.id, id, epoch
	commit.Generation, commit.MemberID = -1, ""
	rt := kmsg.NewTxnOffsetCommitRequestTopic()
	tid, err := p.topicID(ctx, topic)
	if err != nil {
		return err
	}
	rt.Topic, rt.TopicID = topic, tid
	rp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
	rp.Partition, rp.Offset, rp.LeaderEpoch, rp.Metadata = 0, next, -1, &p.meta
	rt.Partitions = append(rt.Partitions, rp)
	commit.Topics = append(commit.Topics, rt)
	return retryConcurrent(ctx, func() error {
		resp, err := commit.RequestWith(ctx, p.cl)
		if err != nil {
			return fmt.Errorf("commit offset %d: %w", next, err)
		}
		for _, t := range resp.Topics {
			for _, pr := range t.Partitions {
				if err := kerr.ErrorForCode(pr.ErrorCode); err != nil {
					return fmt.Errorf("commit offset %d: %w", next, err)
				}
			}
		}
		return nil
	})
}

// retryConcurrent calls fn again while the coordinator says another
// transaction step is still being completed.
func retryConcurrent(ctx context.Context, fn func() error) error {
	for {
		err := fn()
		if !errors.Is(err, kerr.ConcurrentTransactions) && !errors.Is(err, kerr.CoordinatorLoadInProgress) {
			return err
		}
		t := time.NewTimer(10 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}

// topicID is topic's id (TxnOffsetCommit names topics by id from v6 on).
func (p *txnPart) topicID(ctx context.Context, topic string) ([16]byte, error) {
	if id, ok := p.topicIDs[topic]; ok {
		return id, nil
	}
	td, err := kadm.NewClient(p.cl).ListTopics(ctx, topic)
	if err != nil {
		return [16]byte{}, fmt.Errorf("metadata of topic %s: %w", topic, err)
	}
	d, ok := td[topic]
	if !ok {
		return [16]byte{}, fmt.Errorf("metadata of topic %s: %w", topic, kerr.UnknownTopicOrPartition)
	}
	if d.Err != nil {
		return [16]byte{}, fmt.Errorf("metadata of topic %s: %w", topic, d.Err)
	}
	if p.topicIDs == nil {
		p.topicIDs = map[string][16]byte{}
	}
	p.topicIDs[topic] = d.ID
	return d.ID, nil
}
