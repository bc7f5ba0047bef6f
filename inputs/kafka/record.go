package kafka

import (
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/capstan-agent/capstan/spool/batch"
)

// The attributes a Kafka record becomes (docs/inputs-kafka.md), after the
// OpenTelemetry semantic conventions for messaging where they have a name.
const (
	// Source attributes, one per batch (a batch holds one partition's records).
	AttrSystem    = "messaging.system"                   // "kafka"
	AttrTopic     = "messaging.destination.name"         // the topic
	AttrPartition = "messaging.destination.partition.id" // the partition, as a string (semconv's type)
	AttrGroup     = "messaging.consumer.group.name"      // the consumer group
	// Record attributes.
	AttrOffset       = "messaging.kafka.offset"            // int
	AttrKey          = "messaging.kafka.message.key"       // the key's bytes, when the record has one
	AttrTombstone    = "messaging.kafka.message.tombstone" // true for a record with a null value
	AttrHeaderPrefix = "messaging.kafka.header."           // + the header's key: its value
	AttrTruncated    = "truncated"                         // true when the value was cut at max_record_bytes
)

// recordBuilder turns Kafka records into the records of one batch, with no
// allocation per record once its buffers have grown.
type recordBuilder struct {
	bld      batch.Builder
	maxBytes int
	attrs    []batch.Attr
	keys     []byte // header attribute keys
	num      []byte // the offset's text

	// The fixed keys and values, made once.
	kOffset, kKey, kTombstone, kTruncated, vTrue []byte
}

func newRecordBuilder(c *Config) recordBuilder {
	return recordBuilder{maxBytes: int(c.MaxRecordBytes), kOffset: []byte(AttrOffset), kKey: []byte(AttrKey),
		kTombstone: []byte(AttrTombstone), kTruncated: []byte(AttrTruncated), vTrue: []byte("true")}
}

// reset starts a batch of a partition's records.
func (r *recordBuilder) reset(producer uint64, src []batch.Attr) {
	r.bld.ResetV2(producer, time.Now().UnixNano(), src)
}

// add appends one Kafka record: its value as the body, its timestamp (the
// batch's observed time when it has none), offset, key, headers.
func (r *recordBuilder) add(rec *kgo.Record, st *Stats) {
	ts := rec.Timestamp.UnixNano()
	if rec.Timestamp.IsZero() || ts <= 0 {
		ts = time.Now().UnixNano()
	}
	r.num = strconv.AppendInt(r.num[:0], rec.Offset, 10)
	r.attrs = append(r.attrs[:0], batch.Attr{Key: r.kOffset, Value: r.num, Kind: batch.KindInt})
	if rec.Key != nil {
		r.attrs = append(r.attrs, batch.Attr{Key: r.kKey, Value: rec.Key})
	}
	if rec.Value == nil {
		r.attrs = append(r.attrs, batch.Attr{Key: r.kTombstone, Value: r.vTrue, Kind: batch.KindBool})
	}
	r.keys = r.keys[:0]
	for _, h := range rec.Headers {
		start := len(r.keys)
		r.keys = append(r.keys, AttrHeaderPrefix...)
		r.keys = append(r.keys, h.Key...)
		// A grown r.keys leaves the earlier keys in the old array, intact.
		r.attrs = append(r.attrs, batch.Attr{Key: r.keys[start:len(r.keys):len(r.keys)], Value: h.Value})
	}
	body := rec.Value
	if len(body) > r.maxBytes {
		body = body[:r.maxBytes]
		st.Truncated.Add(1)
		r.attrs = append(r.attrs, batch.Attr{Key: r.kTruncated, Value: r.vTrue, Kind: batch.KindBool})
	}
	st.Bytes.Add(uint64(len(rec.Value)))
	r.bld.AddRecord(ts, batch.KindString, body, r.attrs)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
