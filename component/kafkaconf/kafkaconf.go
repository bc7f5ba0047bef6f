// Package kafkaconf holds what the kafka input and the kafka output share of
// their configuration: the broker list, the sasl section, and TLS to the
// brokers. One implementation, so that both check and connect alike.
package kafkaconf

import (
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/capstan-agent/capstan/component/conf"
	"github.com/capstan-agent/capstan/component/tlsconf"
)

// SASL mechanisms.
const (
	Plain       = "PLAIN"
	ScramSHA256 = "SCRAM-SHA-256"
	ScramSHA512 = "SCRAM-SHA-512"
)

// SASL is the sasl section: a mechanism and its credentials.
type SASL struct {
	Mechanism    string `koanf:"mechanism" enum:"PLAIN,SCRAM-SHA-256,SCRAM-SHA-512"`
	Username     string `koanf:"username"`
	Password     string `koanf:"password"`
	PasswordFile string `koanf:"password_file"`
}

// Validate checks the sasl section: a known mechanism and both credentials.
func (s *SASL) Validate() error {
	var e conf.Errors
	if e.Required("mechanism", s.Mechanism, "PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512") {
		e.OneOf("mechanism", s.Mechanism, Plain, ScramSHA256, ScramSHA512)
	}
	e.Required("username", s.Username, "the SASL user name")
	switch {
	case s.Password != "" && s.PasswordFile != "":
		e.Add("password", "give password or password_file, not both")
	case s.PasswordFile != "":
		e.Readable("password_file", s.PasswordFile)
	case s.Password == "":
		e.Add("password", "missing: the SASL password (or password_file; ${VAR} takes it from the environment)")
	}
	return e.Err()
}

// Auth makes the SASL mechanism, reading the password file: at start, not
// at validation, and again at each start.
func (s *SASL) Auth() (sasl.Mechanism, error) {
	pass := s.Password
	if s.PasswordFile != "" {
		b, err := os.ReadFile(s.PasswordFile)
		if err != nil {
			return nil, fmt.Errorf("sasl.password_file: %w", err)
		}
		pass = strings.TrimRight(string(b), "\r\n")
	}
	switch s.Mechanism {
	case Plain:
		return plain.Auth{User: s.Username, Pass: pass}.AsMechanism(), nil
	case ScramSHA256:
		return scram.Auth{User: s.Username, Pass: pass}.AsSha256Mechanism(), nil
	case ScramSHA512:
		return scram.Auth{User: s.Username, Pass: pass}.AsSha512Mechanism(), nil
	}
	return nil, fmt.Errorf("sasl.mechanism: %q is not one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512", s.Mechanism)
}

// SplitBrokers parses one entry of brokers: host:port, or several joined
// with commas (Kafka's bootstrap.servers form). It refuses an empty entry,
// a missing or bad port, and a host with spaces or slashes (a URL).
func SplitBrokers(s string) ([]string, error) {
	var out []string
	for b := range strings.SplitSeq(s, ",") {
		b = strings.TrimSpace(b)
		host, port, err := net.SplitHostPort(b)
		if err != nil || host == "" {
			return nil, fmt.Errorf("%q is not host:port (write e.g. kafka-0:9092)", b)
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("%q: port %q is not a port number (1 to 65535)", b, port)
		}
		if strings.ContainsAny(host, " /\t") {
			return nil, fmt.Errorf("%q: %q is not a host name or address", b, host)
		}
		out = append(out, b)
	}
	return out, nil
}

// CheckBrokers adds to e what is wrong with the brokers key.
func CheckBrokers(e *conf.Errors, brokers []string) {
	if len(brokers) == 0 {
		e.Add("brokers", "missing: the seed brokers, host:port (e.g. [kafka-0:9092])")
	}
	for i, b := range brokers {
		if _, err := SplitBrokers(b); err != nil {
			e.Add(conf.Index("brokers", i), "%v", err)
		}
	}
}

// Brokers is every broker of every entry (of a checked list).
func Brokers(entries []string) []string {
	var out []string
	for _, b := range entries {
		bs, _ := SplitBrokers(b)
		out = append(out, bs...)
	}
	return out
}

// DialTLS loads t (its files are read here, at start) for brokers: without
// a server_name, each broker is verified under its own host name.
func DialTLS(t *tlsconf.Client, brokers []string) (*tls.Config, error) {
	var host string
	if len(brokers) > 0 {
		host, _, _ = net.SplitHostPort(brokers[0])
	}
	tc, err := t.Config(host)
	if err != nil {
		return nil, err
	}
	if t.ServerName == "" {
		tc.ServerName = "" // franz-go sets each broker's host name as it dials
	}
	return tc, nil
}
