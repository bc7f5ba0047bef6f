package kafkatest

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/capstan-agent/capstan/shipper/internal/testproc"
)

// Options configure the cluster.
type Options struct {
	// Brokers is the number of brokers (default 1).
	Brokers int
	// Topics are created at start: name → partitions.
	Topics map[string]int32
	// DefaultPartitions is the partition count of a topic created without
	// one (default 1).
	DefaultPartitions int
	// AutoCreateTopics lets metadata requests create the topics they name.
	AutoCreateTopics bool
	// GroupMinSessionTimeout is the smallest consumer-group session timeout
	// the cluster allows (default 100ms, so tests may let a killed member's
	// session end quickly; Kafka's own default is 6s).
	GroupMinSessionTimeout time.Duration
	// BrokerConfigs are broker settings, e.g. "transaction.max.timeout.ms".
	BrokerConfigs map[string]string
	// SASL users; any turns SASL on. Client uses the first.
	SASL []SASLUser
	// DataDir keeps the cluster's state across Stop and Restart.
	DataDir string
	// ReadyTimeout bounds the wait for the brokers to listen (default 30s).
	ReadyTimeout time.Duration
}

// SASLUser is a superuser of the cluster.
type SASLUser struct {
	Mechanism      string // PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512
	User, Password string
}

// Cluster is a running kfakecluster helper.
type Cluster struct {
	// Brokers are the brokers' host:port addresses.
	Brokers []string

	t      testing.TB
	bin    string
	opts   Options
	proc   *testproc.Proc
	helper *kgo.Client // the helpers' own client, made on first use
}

// Start builds (once per test binary) and runs the cluster program, and
// returns when every broker listens. It is killed when the test ends.
func Start(t testing.TB, opts Options) *Cluster {
	t.Helper()
	if opts.Brokers == 0 {
		opts.Brokers = 1
	}
	_, file, _, _ := runtime.Caller(0)
	c := &Cluster{t: t, opts: opts}
	c.bin = testproc.Build(t, filepath.Join(testproc.SourceDir(t, file), "kfakecluster"), ".")
	c.start(nil)
	return c
}

func (c *Cluster) start(ports []string) {
	c.t.Helper()
	o := c.opts
	args := []string{"-brokers", fmt.Sprint(o.Brokers)}
	if ports != nil {
		args = append(args, "-ports", strings.Join(ports, ","))
	}
	for name, n := range o.Topics {
		args = append(args, "-topic", fmt.Sprintf("%s:%d", name, n))
	}
	if o.DefaultPartitions > 0 {
		args = append(args, "-default-partitions", fmt.Sprint(o.DefaultPartitions))
	}
	if o.AutoCreateTopics {
		args = append(args, "-auto-create-topics")
	}
	if o.GroupMinSessionTimeout > 0 {
		args = append(args, "-group-min-session-timeout", o.GroupMinSessionTimeout.String())
	}
	for k, v := range o.BrokerConfigs {
		args = append(args, "-broker-config", k+"="+v)
	}
	for _, u := range o.SASL {
		args = append(args, "-sasl", u.Mechanism+":"+u.User+":"+u.Password)
	}
	if o.DataDir != "" {
		args = append(args, "-data-dir", o.DataDir)
	}
	c.proc = testproc.Start(c.t, testproc.Config{
		Name:         "kfake cluster",
		Path:         c.bin,
		Args:         args,
		ReadyTimeout: o.ReadyTimeout,
	})
	list, ok := strings.CutPrefix(c.proc.Ready(), "ready brokers=")
	if !ok || list == "" {
		c.t.Fatalf("kfake cluster: ready line %q names no brokers", c.proc.Ready())
	}
	c.Brokers = strings.Split(list, ",")
}

// BrokerList returns the brokers as one comma-separated string.
func (c *Cluster) BrokerList() string { return strings.Join(c.Brokers, ",") }

// PID returns the cluster's process id.
func (c *Cluster) PID() int { return c.proc.PID() }

// Kill stops the cluster with SIGKILL (a cluster that went away).
func (c *Cluster) Kill() { c.proc.Kill() }

// Stop stops the cluster with SIGTERM, so that a DataDir holds its state.
func (c *Cluster) Stop() {
	c.t.Helper()
	if err := c.proc.Stop(30 * time.Second); err != nil {
		c.t.Fatalf("stop kfake cluster: %v; stderr:\n%s", err, c.proc.Stderr())
	}
}

// Restart starts the cluster again on the same ports after Kill or Stop
// (it kills a running one first). With a DataDir the cluster comes back
// with what it had saved; without one it comes back empty, with the
// Topics of its Options.
func (c *Cluster) Restart() {
	c.t.Helper()
	c.proc.Kill()
	ports := make([]string, len(c.Brokers))
	for i, b := range c.Brokers {
		ports[i] = b[strings.LastIndexByte(b, ':')+1:]
	}
	c.start(ports)
}

// ClientOpts returns the options that point a franz-go client at the
// cluster: its brokers and the first SASL user, if any. For a client the
// test closes itself (a group member that must leave at a given point).
func (c *Cluster) ClientOpts() []kgo.Opt {
	c.t.Helper()
	opts := []kgo.Opt{kgo.SeedBrokers(c.Brokers...)}
	if len(c.opts.SASL) == 0 {
		return opts
	}
	u := c.opts.SASL[0]
	switch u.Mechanism {
	case "PLAIN":
		return append(opts, kgo.SASL(plain.Auth{User: u.User, Pass: u.Password}.AsMechanism()))
	case "SCRAM-SHA-256":
		return append(opts, kgo.SASL(scram.Auth{User: u.User, Pass: u.Password}.AsSha256Mechanism()))
	case "SCRAM-SHA-512":
		return append(opts, kgo.SASL(scram.Auth{User: u.User, Pass: u.Password}.AsSha512Mechanism()))
	}
	c.t.Fatalf("kafkatest: SASL mechanism %q is not PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", u.Mechanism)
	return nil
}

// Client returns a franz-go client for the cluster with ClientOpts and
// opts, closed when the test ends.
func (c *Cluster) Client(opts ...kgo.Opt) *kgo.Client {
	c.t.Helper()
	cl, err := kgo.NewClient(append(c.ClientOpts(), opts...)...)
	if err != nil {
		c.t.Fatalf("kafka client: %v", err)
	}
	c.t.Cleanup(cl.Close)
	return cl
}

// CreateTopic creates a topic with partitions and topic configs (nil for none).
func (c *Cluster) CreateTopic(topic string, partitions int32, configs map[string]string) {
	c.t.Helper()
	var cfg map[string]*string
	if configs != nil {
		cfg = map[string]*string{}
		for k, v := range configs {
			cfg[k] = kadm.StringPtr(v)
		}
	}
	adm := kadm.NewClient(c.helperClient())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := adm.CreateTopic(ctx, partitions, -1, cfg, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		c.t.Fatalf("create topic %s: %v", topic, err)
	}
}

// Produce writes records to topic (each with Topic set to it) and waits for
// every acknowledgement.
func (c *Cluster) Produce(topic string, recs ...*kgo.Record) {
	c.t.Helper()
	for _, r := range recs {
		r.Topic = topic
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.helperClient().ProduceSync(ctx, recs...).FirstErr(); err != nil {
		c.t.Fatalf("produce to %s: %v", topic, err)
	}
}

func (c *Cluster) helperClient() *kgo.Client {
	c.t.Helper()
	if c.helper == nil {
		c.helper = c.Client()
	}
	return c.helper
}
