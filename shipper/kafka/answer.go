package kafka

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"go.uber.org/zap"

	"github.com/capstan-agent/capstan/shipper/delivery"
)

// verdict is what an error of a produce or a transaction means for its
// records.
type verdict uint8

const (
	retry    verdict = iota // nothing lost by trying again: a broker moved, the cluster is down
	reject                  // refused for good: dead letter
	tooLarge                // split the request; a record alone too large is dead-lettered
)

// classify names an error's class (a metric label) and what to do. Every
// error Kafka says is retriable, and every error it does not name, is
// retried forever: an output never gives up on data because the cluster
// misbehaves. Refused for good are only what no retry can change: a
// record too large, an authorization the cluster denies, a topic name it
// refuses, a record it finds invalid.
func classify(err error) (verdict, string) {
	var ke *kerr.Error
	switch {
	case errors.Is(err, kerr.MessageTooLarge), errors.Is(err, kerr.RecordListTooLarge):
		return tooLarge, "too_large"
	case errors.Is(err, kerr.TopicAuthorizationFailed), errors.Is(err, kerr.ClusterAuthorizationFailed),
		errors.Is(err, kerr.TransactionalIDAuthorizationFailed), errors.Is(err, kerr.GroupAuthorizationFailed):
		return reject, "unauthorized"
	case errors.Is(err, kerr.InvalidTopicException):
		return reject, "invalid_topic"
	case errors.Is(err, kerr.InvalidRecord), errors.Is(err, kerr.CorruptMessage):
		return reject, "invalid_record"
	case errors.Is(err, kerr.SaslAuthenticationFailed), errors.Is(err, kerr.UnsupportedSaslMechanism),
		errors.Is(err, kerr.IllegalSaslState):
		return retry, "authentication"
	case errors.Is(err, kerr.UnknownTopicOrPartition):
		return retry, "unknown_topic"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, kgo.ErrRecordTimeout):
		return retry, "timeout"
	case errors.Is(err, context.Canceled), errors.Is(err, kgo.ErrClientClosed):
		return retry, "closed"
	case errors.As(err, &ke):
		return retry, strings.ToLower(strings.ReplaceAll(ke.Message, "-", "_"))
	}
	var ne net.Error
	var oe *net.OpError
	if errors.As(err, &ne) || errors.As(err, &oe) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return retry, "connection"
	}
	return retry, "kafka"
}

// result turns a whole request's failure into the engine's answer.
func result(err error) delivery.Result {
	v, reason := classify(err)
	switch v {
	case reject:
		return delivery.Reject(reason, err)
	case tooLarge:
		return delivery.TooLarge(err)
	}
	return delivery.Retry(reason, err)
}

// result is the engine's answer to a request that failed whole, after
// explain; a refusal for authorization is also logged as an error, since
// every request will go the same way until the ACLs change.
func (c *client) result(err error) delivery.Result {
	err = c.explain(err)
	if _, reason := classify(err); reason == "unauthorized" {
		c.log.Error("Kafka denies this output what it needs: its records go to the dead letter until the ACLs change",
			zap.Error(err), zap.Strings("brokers", c.cfg.Brokers))
	}
	return result(err)
}
