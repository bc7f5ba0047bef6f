// Command kfakecluster runs a kfake cluster (franz-go's in-process Kafka,
// with transactions and consumer groups) on 127.0.0.1 until it is killed, so
// that tests can SIGKILL a capstan process while the cluster lives on. It is
// built and started by the kafkatest package (docs/testing.md).
//
// It prints "ready brokers=HOST:PORT,..." once every broker listens. It runs
// until SIGTERM or SIGINT, or until its standard input closes (the test process
// that started it is gone).
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// listFlag collects a repeated flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, " ") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

func main() {
	var (
		brokers      = flag.Int("brokers", 1, "number of brokers")
		ports        = flag.String("ports", "", "comma-separated 127.0.0.1 ports, one per broker (empty or 0: pick)")
		defaultParts = flag.Int("default-partitions", 1, "partitions of a topic created without a count")
		autoCreate   = flag.Bool("auto-create-topics", false, "create topics that a metadata request names")
		minSession   = flag.Duration("group-min-session-timeout", 100*time.Millisecond, "smallest consumer group session timeout the cluster allows")
		maxSession   = flag.Duration("group-max-session-timeout", 5*time.Minute, "largest consumer group session timeout the cluster allows")
		dataDir      = flag.String("data-dir", "", "directory the cluster keeps its state in across restarts (empty: memory only)")
		clusterID    = flag.String("cluster-id", "kfake", "cluster id in metadata answers")
		logLevel     = flag.String("log-level", "none", "kfake log level on stderr: none, error, warn, info, debug")
		topics       listFlag
		configs      listFlag
		sasl         listFlag
	)
	flag.Var(&topics, "topic", "NAME:PARTITIONS of a topic to create at start (repeatable)")
	flag.Var(&configs, "broker-config", "KEY=VALUE broker config, e.g. transaction.max.timeout.ms=60000 (repeatable)")
	flag.Var(&sasl, "sasl", "MECHANISM:USER:PASSWORD of a superuser (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512); any turns SASL on (repeatable)")
	flag.Parse()

	opts, err := options(*brokers, *ports, topics, configs, sasl, *logLevel)
	if err != nil {
		fmt.Fprintf(os.Stderr, "kfakecluster: %v\n", err)
		os.Exit(2)
	}
	opts = append(opts,
		kfake.DefaultNumPartitions(*defaultParts),
		kfake.GroupMinSessionTimeout(*minSession),
		kfake.GroupMaxSessionTimeout(*maxSession),
		kfake.ClusterID(*clusterID),
	)
	if *autoCreate {
		opts = append(opts, kfake.AllowAutoTopicCreation())
	}
	if *dataDir != "" {
		opts = append(opts, kfake.DataDir(*dataDir))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		fmt.Fprintf(os.Stderr, "kfakecluster: start cluster: %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("ready brokers=%s\n", strings.Join(c.ListenAddrs(), ","))
	waitForStop()
	c.Close()
}

func options(brokers int, ports string, topics, configs, sasl []string, logLevel string) ([]kfake.Opt, error) {
	if brokers < 1 {
		return nil, fmt.Errorf("-brokers %d: want at least 1", brokers)
	}
	opts := []kfake.Opt{kfake.NumBrokers(brokers)}
	if ports != "" {
		var ps []int
		for _, s := range strings.Split(ports, ",") {
			p, err := strconv.Atoi(s)
			if err != nil || p < 0 || p > 65535 {
				return nil, fmt.Errorf("-ports: %q is not a port", s)
			}
			ps = append(ps, p)
		}
		if len(ps) != brokers {
			return nil, fmt.Errorf("-ports has %d ports for %d brokers", len(ps), brokers)
		}
		opts = append(opts, kfake.Ports(ps...))
	}
	for _, t := range topics {
		name, n, ok := strings.Cut(t, ":")
		parts, err := strconv.Atoi(n)
		if !ok || name == "" || err != nil || parts < 1 {
			return nil, fmt.Errorf("-topic %q: want NAME:PARTITIONS", t)
		}
		opts = append(opts, kfake.SeedTopics(int32(parts), name))
	}
	if len(configs) > 0 {
		m := map[string]string{}
		for _, kv := range configs {
			k, v, ok := strings.Cut(kv, "=")
			if !ok || k == "" {
				return nil, fmt.Errorf("-broker-config %q: want KEY=VALUE", kv)
			}
			m[k] = v
		}
		opts = append(opts, kfake.BrokerConfigs(m))
	}
	if len(sasl) > 0 {
		opts = append(opts, kfake.EnableSASL())
		for _, s := range sasl {
			parts := strings.SplitN(s, ":", 3)
			if len(parts) != 3 {
				return nil, fmt.Errorf("-sasl %q: want MECHANISM:USER:PASSWORD", s)
			}
			switch parts[0] {
			case "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512":
			default:
				return nil, fmt.Errorf("-sasl %q: mechanism %q is not PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", s, parts[0])
			}
			opts = append(opts, kfake.Superuser(parts[0], parts[1], parts[2]))
		}
	}
	level, err := parseLevel(logLevel)
	if err != nil {
		return nil, err
	}
	if level != kfake.LogLevelNone {
		opts = append(opts, kfake.WithLogger(kfake.BasicLogger(os.Stderr, level)))
	}
	return opts, nil
}

func parseLevel(s string) (kfake.LogLevel, error) {
	switch s {
	case "none":
		return kfake.LogLevelNone, nil
	case "error":
		return kfake.LogLevelError, nil
	case "warn":
		return kfake.LogLevelWarn, nil
	case "info":
		return kfake.LogLevelInfo, nil
	case "debug":
		return kfake.LogLevelDebug, nil
	}
	return 0, errors.New("-log-level: want none, error, warn, info or debug")
}

// waitForStop returns on SIGTERM or SIGINT, or when standard input reaches its
// end: the test that started this process holds the other end of that pipe.
func waitForStop() {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	stdinDone := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		close(stdinDone)
	}()
	select {
	case <-sig:
	case <-stdinDone:
	}
}
