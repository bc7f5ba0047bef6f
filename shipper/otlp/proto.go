package otlp

import (
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
)

// Protobuf is written by hand here, append-only into reused buffers: the
// official types (go.opentelemetry.io/proto/otlp) would cost a few
// allocations per record. The field numbers are those of
// opentelemetry/proto/{logs,common,resource}/v1; tests decode what these
// functions write with the official types.

// Field numbers.
const (
	fRequestResourceLogs = 1 // ExportLogsServiceRequest.resource_logs

	fResourceLogsResource = 1 // ResourceLogs.resource
	fResourceLogsScope    = 2 // ResourceLogs.scope_logs

	fResourceAttributes = 1 // Resource.attributes

	fScopeLogsScope   = 1 // ScopeLogs.scope
	fScopeLogsRecords = 2 // ScopeLogs.log_records

	fScopeName    = 1 // InstrumentationScope.name
	fScopeVersion = 2 // InstrumentationScope.version

	fLogTime         = 1  // fixed64 time_unix_nano
	fLogSeverity     = 2  // enum severity_number
	fLogSeverityText = 3  // string severity_text
	fLogBody         = 5  // AnyValue body
	fLogAttributes   = 6  // repeated KeyValue attributes
	fLogFlags        = 8  // fixed32 flags
	fLogTraceID      = 9  // bytes trace_id
	fLogSpanID       = 10 // bytes span_id
	fLogObserved     = 11 // fixed64 observed_time_unix_nano

	fKeyValueKey   = 1
	fKeyValueValue = 2

	fAnyString = 1
	fAnyBool   = 2
	fAnyInt    = 3
	fAnyDouble = 4
	fAnyArray  = 5
	fAnyKVList = 6

	fValues = 1 // ArrayValue.values, KeyValueList.values
)

var zeros [10]byte // room a varint may need

// beginLen appends the tag of a length-delimited field and reserves
// `reserve` bytes for its length; the content follows. It returns where the
// content starts, for endLen.
func beginLen(b []byte, num protowire.Number, reserve int) ([]byte, int) {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	b = append(b, zeros[:reserve]...)
	return b, len(b)
}

// endLen writes the length of the content that started at start into the
// room beginLen reserved, moving the content if its length needs more or
// fewer bytes than were reserved.
func endLen(b []byte, start, reserve int) []byte {
	n := len(b) - start
	k := protowire.SizeVarint(uint64(n))
	switch {
	case k < reserve:
		copy(b[start-reserve+k:], b[start:])
		b = b[:len(b)-(reserve-k)]
	case k > reserve:
		b = append(b, zeros[:k-reserve]...)
		copy(b[start-reserve+k:], b[start:start+n])
	}
	protowire.AppendVarint(b[:start-reserve], uint64(n))
	return b
}

// appendStringField appends a string field; bytes of invalid UTF-8 become
// U+FFFD, as protobuf strings must be UTF-8 (receivers refuse them
// otherwise).
func appendStringField(b []byte, num protowire.Number, s []byte) []byte {
	if utf8.Valid(s) {
		b = protowire.AppendTag(b, num, protowire.BytesType)
		return protowire.AppendBytes(b, s)
	}
	b, start := beginLen(b, num, 2)
	b = appendValidUTF8(b, s)
	return endLen(b, start, 2)
}

// appendValidUTF8 appends s with each byte of invalid UTF-8 replaced by
// U+FFFD.
func appendValidUTF8(b, s []byte) []byte {
	for len(s) > 0 {
		r, n := utf8.DecodeRune(s)
		if r == utf8.RuneError && n == 1 {
			b = utf8.AppendRune(b, utf8.RuneError)
		} else {
			b = append(b, s[:n]...)
		}
		s = s[n:]
	}
	return b
}
