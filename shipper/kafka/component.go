package kafka

import (
	"context"
	"fmt"
	"net"
	"sync"
	"time"
	"unsafe"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/capstan-agent/capstan/component"
	"github.com/capstan-agent/capstan/component/conf"
	"github.com/capstan-agent/capstan/component/kafkaconf"
	"github.com/capstan-agent/capstan/shipper/delivery"
	"github.com/capstan-agent/capstan/spool"
)

// NewFactory makes the factory of the kafka output type.
func NewFactory() component.OutputFactory {
	return component.NewOutputFactory("kafka", conf.Defaults[Config], func(set component.Settings, c *Config) (component.Output, error) { return New(set, c) })
}

// New makes a kafka output: the delivery engine with the Kafka encoder and
// sender. It validates and allocates; clients are made when it runs.
func New(set component.Settings, c *Config) (*delivery.Engine, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	t, _ := parseTopic(c.Topic) // Validate parsed it
	enc := &encoder{topic: t, key: c.Key, headers: c.Headers, json: c.Encoding == EncodingJSON}
	if t.static() {
		enc.fixed = t.String()
	}
	log := set.Logger
	if log == nil {
		log = zap.NewNop()
	}
	base := &client{cfg: c, log: log, name: set.ID.Name}
	// Ordered: one request of a spool partition at a time, so that the
	// records of a key reach their Kafka partition in order, and each
	// transaction's offset follows the one before. Records without a key
	// are spread over the topic's partitions anyway: they take
	// concurrency requests at once.
	ordered := c.ExactlyOnce || c.Key != ""
	opts := delivery.Options{Config: c.Config, Concurrency: c.Concurrency, Timeout: c.Timeout, Ordered: ordered}
	if c.ExactlyOnce {
		return delivery.New(set, opts, enc, &txnSender{client: base}), nil
	}
	return delivery.New(set, opts, enc, &sender{client: base}), nil
}

// client holds what every franz-go client of the output is made from.
type client struct {
	cfg  *Config
	log  *zap.Logger
	name string
	opts []kgo.Opt // made at Open

	mu      sync.Mutex
	connErr error // the last connection to a broker that failed, nil once one succeeds
}

// OnBrokerConnect keeps the last failure to connect to a broker (dial, TLS,
// SASL), so that a request that ran out of time says why.
func (c *client) OnBrokerConnect(_ kgo.BrokerMetadata, _ time.Duration, _ net.Conn, err error) {
	c.mu.Lock()
	c.connErr = err
	c.mu.Unlock()
}

// explain adds to an error of a request that ran out of time why the
// brokers could not be reached, which is what classifies it.
func (c *client) explain(err error) error {
	if v, reason := classify(err); v != retry || reason != "timeout" && reason != "kafka" {
		return err
	}
	c.mu.Lock()
	cerr := c.connErr
	c.mu.Unlock()
	if cerr == nil {
		return err
	}
	return fmt.Errorf("%v; connecting to the brokers fails: %w", err, cerr)
}

// open makes the options of the output's clients: TLS keys and the SASL
// password are read here, not at construction.
func (c *client) open() error {
	cfg := c.cfg
	opts := []kgo.Opt{
		kgo.SeedBrokers(kafkaconf.Brokers(cfg.Brokers)...),
		kgo.ClientID(cfg.ClientID),
		kgo.DialTimeout(cfg.ConnectTimeout),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerLinger(0),
		// A topic the cluster does not know fails the request at once with
		// unknown_topic (the engine retries it, forever): franz-go's default
		// of four metadata rounds can outlast the request's timeout, and the
		// output would then say "timeout" where it knows better.
		kgo.UnknownTopicRetries(1),
		kgo.ProducerBatchMaxBytes(int32(cfg.MaxMessageBytes)),
		kgo.MaxBufferedRecords(cfg.Concurrency*cfg.Batch.MaxRecords + 1024),
		kgo.WithLogger(kgoLogger{c.log}),
		kgo.WithHooks(c),
	}
	switch cfg.Compression {
	case CompressionGzip:
		opts = append(opts, kgo.ProducerBatchCompression(kgo.GzipCompression()))
	case CompressionSnappy:
		opts = append(opts, kgo.ProducerBatchCompression(kgo.SnappyCompression()))
	case CompressionLZ4:
		opts = append(opts, kgo.ProducerBatchCompression(kgo.Lz4Compression()))
	case CompressionZstd:
		opts = append(opts, kgo.ProducerBatchCompression(kgo.ZstdCompression()))
	default:
		opts = append(opts, kgo.ProducerBatchCompression(kgo.NoCompression()))
	}
	if cfg.TLS != nil {
		tc, err := kafkaconf.DialTLS(cfg.TLS, kafkaconf.Brokers(cfg.Brokers))
		if err != nil {
			return err
		}
		opts = append(opts, kgo.DialTLSConfig(tc))
	}
	if cfg.SASL != nil {
		m, err := cfg.SASL.Auth()
		if err != nil {
			return err
		}
		opts = append(opts, kgo.SASL(m))
	}
	c.opts = opts
	return nil
}

// sender produces requests with one idempotent client shared by every
// partition: at least once (a kill re-sends what was not committed).
type sender struct {
	*client
	cl *kgo.Client
}

// Open makes the client; it connects when it first produces.
func (s *sender) Open(_ context.Context, _ component.OutputHost, _ map[spool.Key]uint64) error {
	if err := s.open(); err != nil {
		return err
	}
	cl, err := kgo.NewClient(s.opts...)
	if err != nil {
		return fmt.Errorf("kafka client: %w", err)
	}
	s.cl = cl
	return nil
}

// Close closes the client.
func (s *sender) Close() error {
	if s.cl != nil {
		s.cl.Close()
	}
	return nil
}

// Send produces the request's records and waits for every one to be
// acknowledged by all in-sync replicas.
func (s *sender) Send(ctx context.Context, req *delivery.Request) delivery.Result {
	st := req.Data.(*reqState)
	produce(ctx, s.cl, req, st, int(s.cfg.MaxMessageBytes))
	// Records refused one by one: a record too large in a request of more
	// makes the engine split it, until the record is alone (and
	// dead-lettered); records that were taken may be sent again then (at
	// least once). Records that failed for a reason that may pass are sent
	// again alone, unless none was taken: then the request failed whole.
	var first, denied error
	taken := 0
	for i, err := range st.results {
		if st.recs[i].tooBig {
			continue
		}
		if err == nil {
			taken++
			continue
		}
		v, reason := classify(err)
		switch {
		case v == tooLarge && req.Len() > 1:
			return delivery.TooLarge(err)
		case v == reject || v == tooLarge:
			req.RejectRecord(i, reason, err.Error())
			if reason == "unauthorized" && denied == nil {
				denied = err
			}
		default:
			if first == nil {
				first = err
			}
		}
	}
	if denied != nil {
		s.log.Error("Kafka denies this output what it needs: its records go to the dead letter until the ACLs change",
			zap.Error(denied), zap.Strings("brokers", s.cfg.Brokers))
	}
	if first != nil && taken == 0 && denied == nil {
		return s.result(first)
	}
	if first != nil {
		_, reason := classify(s.explain(first))
		for i, err := range st.results {
			if err != nil && !st.recs[i].tooBig {
				if v, _ := classify(err); v == retry {
					req.RetryRecord(i, reason)
				}
			}
		}
	}
	return delivery.Delivered()
}

// produce produces the request's records with cl and waits for them all;
// st.results[i] is record i's outcome. Records larger than max are marked
// rejected on the request and not produced, nor are those marked dup.
func produce(ctx context.Context, cl *kgo.Client, req *delivery.Request, st *reqState, max int) {
	recs := st.records(req, max)
	if cap(st.results) < len(recs) {
		st.results = make([]error, len(recs))
	}
	st.results = st.results[:len(recs)]
	if st.promise == nil {
		st.promise = func(r *kgo.Record, err error) {
			i := (uintptr(unsafe.Pointer(r)) - uintptr(unsafe.Pointer(&st.krecs[0]))) / unsafe.Sizeof(kgo.Record{})
			st.results[i] = err
			st.wg.Done()
		}
	}
	for i := range recs {
		st.results[i] = nil
		if st.recs[i].dup {
			continue
		}
		if st.recs[i].tooBig {
			req.RejectRecord(i, "too_large", fmt.Sprintf("the record is larger than max_message_bytes (%s)", conf.SizeString(int64(max))))
			continue
		}
		st.wg.Add(1)
		cl.Produce(ctx, &recs[i], st.promise)
	}
	st.wg.Wait()
}

// kgoLogger sends franz-go's warnings and errors to the output's log.
type kgoLogger struct{ log *zap.Logger }

func (l kgoLogger) Level() kgo.LogLevel { return kgo.LogLevelWarn }

func (l kgoLogger) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	fields := make([]zap.Field, 0, len(keyvals)/2)
	for i := 0; i+1 < len(keyvals); i += 2 {
		k, _ := keyvals[i].(string)
		fields = append(fields, zap.Any(k, keyvals[i+1]))
	}
	switch level {
	case kgo.LogLevelError:
		l.log.Error("kafka client: "+msg, fields...)
	default:
		l.log.Warn("kafka client: "+msg, fields...)
	}
}
