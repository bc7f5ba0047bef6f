package main

import (
	"strings"
	"testing"
)

func TestOptions(t *testing.T) {
	cases := []struct {
		name                   string
		brokers                int
		ports                  string
		topics, configs, sasls []string
		level                  string
		err                    string // "" for success
		n                      int    // options made, on success
	}{
		{name: "defaults", brokers: 1, level: "none", n: 1},
		{name: "everything", brokers: 2, ports: "0,9093", topics: []string{"logs:4", "in:1"},
			configs: []string{"transaction.max.timeout.ms=60000"}, sasls: []string{"PLAIN:u:p", "SCRAM-SHA-512:v:q:with:colons"},
			level: "info", n: 1 + 1 + 2 + 1 + 1 + 2 + 1},
		{name: "no brokers", brokers: 0, level: "none", err: "-brokers 0: want at least 1"},
		{name: "ports count", brokers: 3, ports: "1,2", level: "none", err: "-ports has 2 ports for 3 brokers"},
		{name: "port word", brokers: 1, ports: "x", level: "none", err: `-ports: "x" is not a port`},
		{name: "port range", brokers: 1, ports: "70000", level: "none", err: `-ports: "70000" is not a port`},
		{name: "topic without count", brokers: 1, topics: []string{"logs"}, level: "none", err: `-topic "logs": want NAME:PARTITIONS`},
		{name: "topic zero", brokers: 1, topics: []string{"logs:0"}, level: "none", err: `-topic "logs:0"`},
		{name: "topic no name", brokers: 1, topics: []string{":3"}, level: "none", err: `-topic ":3"`},
		{name: "config without value", brokers: 1, configs: []string{"x"}, level: "none", err: `-broker-config "x": want KEY=VALUE`},
		{name: "sasl short", brokers: 1, sasls: []string{"PLAIN:u"}, level: "none", err: `-sasl "PLAIN:u": want MECHANISM:USER:PASSWORD`},
		{name: "sasl mechanism", brokers: 1, sasls: []string{"GSSAPI:u:p"}, level: "none", err: `mechanism "GSSAPI" is not PLAIN`},
		{name: "log level", brokers: 1, level: "loud", err: "-log-level: want none"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			opts, err := options(c.brokers, c.ports, c.topics, c.configs, c.sasls, c.level)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v, want one with %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(opts) != c.n {
				t.Errorf("%d options, want %d", len(opts), c.n)
			}
		})
	}
}
