package kafka

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		err    error
		v      verdict
		reason string
	}{
		{kerr.MessageTooLarge, tooLarge, "too_large"},
		{fmt.Errorf("produce: %w", kerr.RecordListTooLarge), tooLarge, "too_large"},
		{kerr.TopicAuthorizationFailed, reject, "unauthorized"},
		{kerr.TransactionalIDAuthorizationFailed, reject, "unauthorized"},
		{kerr.GroupAuthorizationFailed, reject, "unauthorized"},
		{kerr.ClusterAuthorizationFailed, reject, "unauthorized"},
		{kerr.InvalidTopicException, reject, "invalid_topic"},
		{kerr.InvalidRecord, reject, "invalid_record"},
		{kerr.SaslAuthenticationFailed, retry, "authentication"},
		{kerr.UnknownTopicOrPartition, retry, "unknown_topic"},
		{kerr.NotLeaderForPartition, retry, "not_leader_for_partition"},
		{kerr.NotEnoughReplicas, retry, "not_enough_replicas"},
		{kerr.ProducerFenced, retry, "producer_fenced"},
		{context.DeadlineExceeded, retry, "timeout"},
		{kgo.ErrRecordTimeout, retry, "timeout"},
		{kgo.ErrClientClosed, retry, "closed"},
		{&net.OpError{Op: "dial", Err: errors.New("connection refused")}, retry, "connection"},
		{io.EOF, retry, "connection"},
		{errors.New("something else"), retry, "kafka"},
	} {
		v, reason := classify(tc.err)
		if v != tc.v || reason != tc.reason {
			t.Errorf("%v: %d %q, want %d %q", tc.err, v, reason, tc.v, tc.reason)
		}
	}
}
