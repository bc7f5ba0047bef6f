package otlp

import (
	"bytes"
	"strconv"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/capstan-agent/capstan/shipper/recordid"
	"github.com/capstan-agent/capstan/spool/batch"
)

// A record becomes a LogRecord (docs/output-otlp.md, "Mapping"):
//
//	time_unix_nano           the record's time
//	observed_time_unix_nano  when the input read it (the batch's observed
//	                         time; the record's time in batches of format 1)
//	body                     the body, of its kind
//	attributes               the record's own, then its source's that are
//	                         not the Resource's (the record's own win), then
//	                         log.record.uid
//	severity_number, _text   from the first attribute of `severity_from`
//	                         the record, then its source, has

// recordAttrs is what a pass over a record's own attributes found.
type recordAttrs struct {
	shadow  uint64 // extra attributes whose key the record has
	sev     batch.Attr
	sevRank int
	hasUID  bool
}

func (m *mapping) scanAttr(r *recordAttrs, c *batchInfo, a batch.Attr) {
	for k := 0; k < len(c.keyEnds) && k < 64; k++ {
		if bytes.Equal(c.extraKey(k), a.Key) {
			r.shadow |= 1 << k
		}
	}
	if rank := m.severityRank(a.Key); rank < r.sevRank {
		r.sev, r.sevRank = a, rank
	}
	if m.uid && bytes.Equal(a.Key, keyRecordUID) {
		r.hasUID = true
	}
}

func (m *mapping) appendRecordProto(b []byte, s *reqState, v *view) []byte {
	c := &s.cur
	b, start := beginLen(b, fScopeLogsRecords, 2)
	if v.Timestamp > 0 {
		b = protowire.AppendTag(b, fLogTime, protowire.Fixed64Type)
		b = protowire.AppendFixed64(b, uint64(v.Timestamp))
	}
	if obs := observed(v); obs > 0 {
		b = protowire.AppendTag(b, fLogObserved, protowire.Fixed64Type)
		b = protowire.AppendFixed64(b, uint64(obs))
	}
	b, bstart := beginLen(b, fLogBody, 2)
	b = appendAnyValue(b, v.BodyValue())
	b = endLen(b, bstart, 2)

	r := recordAttrs{sevRank: len(m.severity)}
	it := v.Attrs()
	for a, ok := it.NextAttr(); ok; a, ok = it.NextAttr() {
		b = appendKeyValue(b, fLogAttributes, a.Key, a)
		m.scanAttr(&r, c, a)
	}
	for k := range c.keyEnds {
		if k >= 64 || r.shadow&(1<<k) == 0 {
			b = append(b, c.extraBytes(k)...)
		}
	}
	if m.uid && !r.hasUID {
		var kv int
		b, kv = beginLen(b, fLogAttributes, 1)
		b = protowire.AppendTag(b, fKeyValueKey, protowire.BytesType)
		b = protowire.AppendBytes(b, keyRecordUID)
		b = protowire.AppendTag(b, fKeyValueValue, protowire.BytesType)
		b = append(b, 28, byte(protowire.EncodeTag(fAnyString, protowire.BytesType)), 26) // AnyValue{string_value: 26 chars}
		b = recordid.AppendULID(b, c.seed, v.index, v.Timestamp)
		b = endLen(b, kv, 1)
	}
	if sev, ok := m.severityAttr(&r, c); ok {
		if n := severityOf(sev); n > 0 {
			b = protowire.AppendTag(b, fLogSeverity, protowire.VarintType)
			b = protowire.AppendVarint(b, uint64(n))
		}
		if sev.Kind == batch.KindString || sev.Kind == batch.KindInt {
			b = appendStringField(b, fLogSeverityText, sev.Value)
		}
	}
	return endLen(b, start, 2)
}

// severityAttr is the attribute the record's severity comes from: its own
// first, then its source's.
func (m *mapping) severityAttr(r *recordAttrs, c *batchInfo) (batch.Attr, bool) {
	if r.sevRank < len(m.severity) {
		return r.sev, true
	}
	if c.hasSev {
		return c.sev, true
	}
	return batch.Attr{}, false
}

func observed(v *view) int64 {
	if v.ObservedTime != 0 {
		return v.ObservedTime
	}
	return v.Timestamp
}

// appendRecordJSON appends ",{...}": the record as an OTLP/JSON LogRecord
// after a comma (the request's assembly drops the first of each group's).
func (m *mapping) appendRecordJSON(b []byte, s *reqState, v *view) []byte {
	c := &s.cur
	b = append(b, ",{"...)
	sep := false
	field := func(name string) {
		if sep {
			b = append(b, ',')
		}
		sep = true
		b = append(append(append(b, '"'), name...), `":`...)
	}
	if v.Timestamp > 0 {
		field("timeUnixNano")
		b = append(strconv.AppendInt(append(b, '"'), v.Timestamp, 10), '"')
	}
	if obs := observed(v); obs > 0 {
		field("observedTimeUnixNano")
		b = append(strconv.AppendInt(append(b, '"'), obs, 10), '"')
	}
	field("body")
	b = appendAnyJSON(b, v.BodyValue())

	r := recordAttrs{sevRank: len(m.severity)}
	field("attributes")
	b = append(b, '[')
	n := 0
	it := v.Attrs()
	for a, ok := it.NextAttr(); ok; a, ok = it.NextAttr() {
		if n > 0 {
			b = append(b, ',')
		}
		b = appendKeyValueJSON(b, a.Key, a)
		m.scanAttr(&r, c, a)
		n++
	}
	for k := range c.keyEnds {
		if k >= 64 || r.shadow&(1<<k) == 0 {
			if n > 0 {
				b = append(b, ',')
			}
			b = append(b, c.extraBytes(k)...)
			n++
		}
	}
	if m.uid && !r.hasUID {
		if n > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"key":"log.record.uid","value":{"stringValue":"`...)
		b = recordid.AppendULID(b, c.seed, v.index, v.Timestamp)
		b = append(b, `"}}`...)
	}
	b = append(b, ']')
	if sev, ok := m.severityAttr(&r, c); ok {
		if n := severityOf(sev); n > 0 {
			field("severityNumber")
			b = strconv.AppendInt(b, int64(n), 10)
		}
		if sev.Kind == batch.KindString || sev.Kind == batch.KindInt {
			field("severityText")
			b = batch.AppendJSONString(b, sev.Value)
		}
	}
	return append(b, '}')
}
