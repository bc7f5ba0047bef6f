package otlp

import (
	"google.golang.org/protobuf/encoding/protowire"
)

// scopeName names capstan as the instrumentation scope of its LogRecords.
const scopeName = "capstan"

var (
	// scopeField is ScopeLogs.scope: InstrumentationScope{name: "capstan"}.
	scopeField = func() []byte {
		b := protowire.AppendTag(nil, fScopeLogsScope, protowire.BytesType)
		inner := protowire.AppendTag(nil, fScopeName, protowire.BytesType)
		inner = protowire.AppendString(inner, scopeName)
		return protowire.AppendBytes(b, inner)
	}()
	scopeJSON = `{"name":"` + scopeName + `"}`
)

// assemble makes the ExportLogsServiceRequest of a request whose body
// holds its records' LogRecords (in the order they were read) and whose
// state says which Resource each belongs to: one ResourceLogs per Resource,
// in the order the Resources were first seen, its records in body order.
// That is the request's document order, which partial success counts in.
// The request is head, then mid, then tail: with one Resource (the common
// case), mid is the body itself, sent without a copy; head is built in dst.
func (m *mapping) assemble(dst, body []byte, s *reqState) (head, mid, tail []byte) {
	if m.json {
		return m.assembleJSON(dst, body, s)
	}
	dst = dst[:0]
	for g := 0; g < s.ngroups; g++ {
		gr := &s.groups[g]
		scopeLogs := len(scopeField) + gr.bytes
		rl := sizeBytesField(len(gr.res)) + sizeBytesField(scopeLogs)
		dst = protowire.AppendTag(dst, fRequestResourceLogs, protowire.BytesType)
		dst = protowire.AppendVarint(dst, uint64(rl))
		dst = protowire.AppendTag(dst, fResourceLogsResource, protowire.BytesType)
		dst = protowire.AppendBytes(dst, gr.res)
		dst = protowire.AppendTag(dst, fResourceLogsScope, protowire.BytesType)
		dst = protowire.AppendVarint(dst, uint64(scopeLogs))
		dst = append(dst, scopeField...)
		if s.ngroups == 1 {
			return dst, body, nil
		}
		dst = appendGroupRecords(dst, body, s, g, 0)
	}
	return dst, nil, nil
}

// payload is the request in one piece (gRPC sends one buffer).
func (m *mapping) payload(dst, body []byte, s *reqState) []byte {
	head, mid, tail := m.assemble(dst, body, s)
	return append(append(head, mid...), tail...)
}

// sizeBytesField is the size of a length-delimited field of n bytes with a
// one-byte tag.
func sizeBytesField(n int) int { return 1 + protowire.SizeVarint(uint64(n)) + n }

// appendGroupRecords appends the body bytes of group g's records, each
// without its first skip bytes (the comma of a JSON record) for the first.
func appendGroupRecords(dst, body []byte, s *reqState, g, skip int) []byte {
	start, first := 0, true
	for _, r := range s.recs {
		if int(r.group) == g {
			from := start
			if first {
				from += skip
				first = false
			}
			dst = append(dst, body[from:r.end]...)
		}
		start = int(r.end)
	}
	return dst
}

const jsonGroupEnd = "]}]}"

func (m *mapping) assembleJSON(dst, body []byte, s *reqState) (head, mid, tail []byte) {
	dst = append(dst[:0], `{"resourceLogs":[`...)
	for g := 0; g < s.ngroups; g++ {
		if g > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"resource":{"attributes":[`...)
		dst = append(dst, s.groups[g].res...)
		dst = append(dst, `]},"scopeLogs":[{"scope":`...)
		dst = append(dst, scopeJSON...)
		dst = append(dst, `,"logRecords":[`...)
		if s.ngroups == 1 {
			return dst, body[1:], jsonEnd1
		}
		dst = appendGroupRecords(dst, body, s, g, 1)
		dst = append(dst, jsonGroupEnd...)
	}
	return append(dst, "]}"...), nil, nil
}

var jsonEnd1 = []byte(jsonGroupEnd + "]}")

// lastInDocumentOrder calls fn with the index (in the request) of each of
// the last n records in document order, last first: what a partial success
// that rejected n records without saying which is taken to mean (OTLP does
// not say which; these are the records the dead letter gets).
func lastInDocumentOrder(s *reqState, n int, fn func(i int)) {
	for g := s.ngroups - 1; g >= 0 && n > 0; g-- {
		for i := len(s.recs) - 1; i >= 0 && n > 0; i-- {
			if int(s.recs[i].group) == g {
				fn(i)
				n--
			}
		}
	}
}
