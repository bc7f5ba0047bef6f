package kafka

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"go.uber.org/zap"

	"github.com/capstan-agent/capstan/component"
	"github.com/capstan-agent/capstan/component/conf"
	"github.com/capstan-agent/capstan/component/kafkaconf"
)

// NewFactory makes the factory of the kafka input type.
func NewFactory() component.InputFactory {
	return component.NewInputFactory("kafka", conf.Defaults[Config], newInput)
}

// Input is the kafka input as the agent runs it: it makes its client and
// joins the group in Run.
type Input struct {
	cfg     *Config
	set     component.Settings
	brokers []string
	stats   Stats
}

func newInput(set component.Settings, c *Config) (component.Input, error) {
	return New(set, c)
}

// New checks c and makes an input; it touches nothing outside.
func New(set component.Settings, c *Config) (*Input, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if set.Logger == nil {
		set.Logger = zap.NewNop()
	}
	return &Input{cfg: c, set: set, brokers: c.brokers()}, nil
}

// Stats are the input's counters.
type Stats struct {
	Records       atomic.Uint64 // appended (the spool's duplicates included)
	Bytes         atomic.Uint64 // record values read
	Batches       atomic.Uint64
	DupBatches    atomic.Uint64 // batches the spool already held
	Skipped       atomic.Uint64 // records re-read that the spool already held, not appended again
	Truncated     atomic.Uint64
	FetchErrors   atomic.Uint64
	CommitErrors  atomic.Uint64
	AppendErrors  atomic.Uint64
	ConnectErrors atomic.Uint64
	Commits       atomic.Uint64
	Revoked       atomic.Uint64 // partitions revoked by rebalances
	Lost          atomic.Uint64 // partitions lost (fatal group errors)
}

// Stats returns the input's counters.
func (in *Input) Stats() *Stats { return &in.stats }

// options are the franz-go options of the input's client, without the
// group callbacks.
func (in *Input) options(tlsCfg *tls.Config, auth sasl.Mechanism) []kgo.Opt {
	c := in.cfg
	opts := []kgo.Opt{
		kgo.SeedBrokers(in.brokers...),
		kgo.ClientID(c.ClientID),
		kgo.ConsumerGroup(c.Group),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.SessionTimeout(c.SessionTimeout),
		kgo.HeartbeatInterval(c.HeartbeatInterval),
		kgo.RebalanceTimeout(c.RebalanceTimeout),
		kgo.FetchMaxBytes(int32(c.FetchMaxBytes)),
		kgo.MetadataMaxAge(c.MetadataMaxAge),
		kgo.MetadataMinAge(min(c.MetadataMaxAge, 5*time.Second)),
		kgo.RetryBackoffFn(func(tries int) time.Duration {
			return min(time.Duration(tries)*100*time.Millisecond, 2*time.Second)
		}),
	}
	if c.InstanceID != "" {
		opts = append(opts, kgo.InstanceID(c.InstanceID)) // static membership (KIP-345)
	}
	if c.TopicsRegex != "" {
		opts = append(opts, kgo.ConsumeTopics(c.TopicsRegex), kgo.ConsumeRegex())
	} else {
		opts = append(opts, kgo.ConsumeTopics(c.Topics...))
	}
	if c.StartAt == "latest" {
		opts = append(opts, kgo.ConsumeResetOffset(kgo.NewOffset().AtEnd()))
	} else {
		opts = append(opts, kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	}
	if c.Isolation == "read_uncommitted" {
		opts = append(opts, kgo.FetchIsolationLevel(kgo.ReadUncommitted()))
	} else {
		opts = append(opts, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	}
	if tlsCfg != nil {
		opts = append(opts, kgo.DialTLSConfig(tlsCfg))
	}
	if auth != nil {
		opts = append(opts, kgo.SASL(auth))
	}
	return opts
}

// Run makes the client (loading the TLS files: a failure is a start
// failure), says Ready, and consumes until ctx ends; then it commits what it
// appended, leaves the group and returns. An unreachable cluster is not a
// failure: the input reports itself degraded and the client retries.
func (in *Input) Run(ctx context.Context, host component.InputHost) error {
	var tlsCfg *tls.Config
	if in.cfg.TLS != nil {
		tc, err := kafkaconf.DialTLS(in.cfg.TLS, in.brokers)
		if err != nil {
			var e conf.Errors
			e.Add("tls", "%v", err)
			return e
		}
		tlsCfg = tc
	}
	var auth sasl.Mechanism
	if in.cfg.SASL != nil {
		m, err := in.cfg.SASL.Auth()
		if err != nil {
			return fmt.Errorf("%s.%w", in.set.ID.Path(), err)
		}
		auth = m
	}
	c := newConsumer(in, host)
	opts := append(in.options(tlsCfg, auth),
		kgo.WithHooks(c.health),
		kgo.WithLogger(newKgoLogger(in.set.Logger)),
		kgo.OnPartitionsAssigned(c.assigned),
		kgo.OnPartitionsRevoked(c.revoked),
		kgo.OnPartitionsLost(c.lost),
	)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("%s: kafka client: %w", in.set.ID.Path(), err)
	}
	c.cl = cl
	host.Ready()
	err = c.run(ctx)
	c.close()
	return err
}

// Metrics reports the input's counters in the input vocabulary.
func (in *Input) Metrics() []component.Metric {
	s := &in.stats
	return []component.Metric{
		component.C("records_total", s.Records.Load()),
		component.C("bytes_total", s.Bytes.Load()),
		component.C("batches_total", s.Batches.Load()),
		component.C("duplicate_batches_total", s.DupBatches.Load()),
		component.C("truncated_records_total", s.Truncated.Load()),
		component.L("errors_total", s.FetchErrors.Load(), "fetch"),
		component.L("errors_total", s.CommitErrors.Load(), "commit"),
		component.L("errors_total", s.AppendErrors.Load(), "append"),
		component.L("errors_total", s.ConnectErrors.Load(), "connect"),
	}
}

// RecordFields are the record attributes the input sets (docs/inputs-kafka.md).
func (c *Config) RecordFields() []string {
	return []string{AttrOffset, AttrKey, AttrTombstone, AttrHeaderPrefix + "*", AttrTruncated}
}

// health turns connection results into the input's state: degraded while
// the last dial to a broker failed, running again when one succeeds.
type health struct {
	host  component.InputHost
	stats *Stats
	log   *zap.Logger

	mu      sync.Mutex
	down    bool
	lastLog time.Time
}

// OnBrokerConnect implements kgo.HookBrokerConnect.
func (h *health) OnBrokerConnect(meta kgo.BrokerMetadata, _ time.Duration, _ net.Conn, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err != nil {
		h.stats.ConnectErrors.Add(1)
		addr := net.JoinHostPort(meta.Host, fmt.Sprint(meta.Port))
		if !h.down || time.Since(h.lastLog) > 30*time.Second {
			h.log.Warn("kafka broker unreachable; retrying", zap.String("broker", addr), zap.Error(err))
			h.lastLog = time.Now()
		}
		h.down = true
		h.host.Report(component.Degraded, fmt.Sprintf("kafka: broker %s: %v", addr, err))
		return
	}
	if h.down {
		h.down = false
		h.log.Info("kafka broker reachable again", zap.String("broker", net.JoinHostPort(meta.Host, fmt.Sprint(meta.Port))))
		h.host.Report(component.Running, "")
	}
}

// fetchError reports an error a poll returned.
func (h *health) fetchError(topic string, partition int32, err error) {
	h.stats.FetchErrors.Add(1)
	h.mu.Lock()
	defer h.mu.Unlock()
	if time.Since(h.lastLog) > 5*time.Second {
		h.log.Warn("kafka fetch failed; retrying", zap.String("topic", topic), zap.Int32("partition", partition), zap.Error(err))
		h.lastLog = time.Now()
	}
	h.down = true
	h.host.Report(component.Degraded, fmt.Sprintf("kafka: fetch %s[%d]: %v", topic, partition, err))
}

// ok says a poll came back without errors.
func (h *health) ok() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.down {
		h.down = false
		h.host.Report(component.Running, "")
	}
}
