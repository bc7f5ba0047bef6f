package lokifake

import (
	"errors"
	"fmt"
	"time"
	"unicode/utf8"
	"unsafe"

	"google.golang.org/protobuf/encoding/protowire"
)

// The push request, decoded by hand from Loki's documented schema
// (pkg/push/push.proto, package logproto; Loki's own module is AGPL and is
// not imported):
//
//	message PushRequest {
//	  repeated StreamAdapter streams = 1;
//	  string format = 2;                  // "loki" or "otlp"; ignored
//	}
//	message StreamAdapter {
//	  string labels = 1;                  // {app="x", ns="y"}
//	  repeated EntryAdapter entries = 2;
//	  uint64 hash = 3;                    // ignored: Loki recomputes it
//	}
//	message EntryAdapter {
//	  google.protobuf.Timestamp timestamp = 1;
//	  string line = 2;
//	  repeated LabelPairAdapter structuredMetadata = 3;
//	  repeated LabelPairAdapter parsed = 4; // query responses only; ignored
//	}
//	message LabelPairAdapter { string name = 1; string value = 2; }
//	message google.protobuf.Timestamp { int64 seconds = 1; int32 nanos = 2; }
//
// Unknown fields are skipped, as proto3 requires. Strings are not checked
// for UTF-8 (Loki's gogo-generated code does not check them); label values
// are, by the label parser.

// pushRequest is a decoded push.
type pushRequest struct {
	streams []pushStream
}

type pushStream struct {
	labels  string
	entries []Entry
}

// protoError is a malformed message, with where it is.
type protoError struct {
	where string
	msg   string
}

func (e *protoError) Error() string { return "proto: " + e.where + ": " + e.msg }

// decodePush decodes a PushRequest. It never allocates more than the input
// justifies: every repeated element consumes input bytes.
//
// With borrow, lines are not copied: they point into b, which must then
// outlive every use of the request (the storage-off path keeps no line).
func decodePush(b []byte, req *pushRequest, borrow bool) error {
	req.streams = req.streams[:0]
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return &protoError{"PushRequest", protowire.ParseError(n).Error()}
		}
		b = b[n:]
		switch {
		case num == 1 && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return &protoError{"PushRequest.streams", protowire.ParseError(n).Error()}
			}
			b = b[n:]
			var s pushStream
			if borrow && len(req.streams) < cap(req.streams) {
				// Nothing is kept of a borrowed request: reuse its arrays.
				s.entries = req.streams[:len(req.streams)+1][len(req.streams)].entries[:0]
			}
			if err := decodeStream(v, &s, len(req.streams), borrow); err != nil {
				return err
			}
			req.streams = append(req.streams, s)
		case num == 1 || num == 2 && typ != protowire.BytesType:
			return wrongType("PushRequest", num, typ)
		default:
			n := protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return &protoError{"PushRequest", protowire.ParseError(n).Error()}
			}
			b = b[n:]
		}
	}
	return nil
}

func wrongType(msg string, num protowire.Number, typ protowire.Type) error {
	return &protoError{msg, fmt.Sprintf("wrong wireType = %d for field %d", typ, num)}
}

func decodeStream(b []byte, s *pushStream, index int, borrow bool) error {
	where := fmt.Sprintf("PushRequest.streams[%d]", index)
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return &protoError{where, protowire.ParseError(n).Error()}
		}
		b = b[n:]
		switch {
		case num == 1 && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return &protoError{where + ".labels", protowire.ParseError(n).Error()}
			}
			s.labels = string(v)
			b = b[n:]
		case num == 2 && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return &protoError{where + ".entries", protowire.ParseError(n).Error()}
			}
			var e Entry
			if borrow && len(s.entries) < cap(s.entries) {
				e.StructuredMetadata = s.entries[:len(s.entries)+1][len(s.entries)].StructuredMetadata[:0]
			}
			if err := decodeEntry(v, &e, where, len(s.entries), borrow); err != nil {
				return err
			}
			if len(e.StructuredMetadata) == 0 {
				e.StructuredMetadata = nil
			}
			s.entries = append(s.entries, e)
			b = b[n:]
		case num == 3 && typ == protowire.VarintType:
			_, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return &protoError{where + ".hash", protowire.ParseError(n).Error()}
			}
			b = b[n:]
		case num >= 1 && num <= 3:
			return wrongType(where, num, typ)
		default:
			n := protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return &protoError{where, protowire.ParseError(n).Error()}
			}
			b = b[n:]
		}
	}
	return nil
}

func decodeEntry(b []byte, e *Entry, stream string, index int, borrow bool) error {
	where := func() string { return fmt.Sprintf("%s.entries[%d]", stream, index) }
	var sec, nsec int64
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return &protoError{where(), protowire.ParseError(n).Error()}
		}
		b = b[n:]
		switch {
		case num == 1 && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return &protoError{where() + ".timestamp", protowire.ParseError(n).Error()}
			}
			var err error
			if sec, nsec, err = decodeTimestamp(v); err != nil {
				return &protoError{where() + ".timestamp", err.Error()}
			}
			b = b[n:]
		case num == 2 && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return &protoError{where() + ".line", protowire.ParseError(n).Error()}
			}
			if borrow {
				e.Line = unsafe.String(unsafe.SliceData(v), len(v))
			} else {
				e.Line = string(v)
			}
			b = b[n:]
		case (num == 3 || num == 4) && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return &protoError{where(), protowire.ParseError(n).Error()}
			}
			var lp LabelPair
			if err := decodePair(v, &lp, borrow); err != nil {
				return &protoError{where() + ".structuredMetadata", err.Error()}
			}
			if num == 3 {
				e.StructuredMetadata = append(e.StructuredMetadata, lp)
			}
			b = b[n:]
		case num >= 1 && num <= 4:
			return wrongType(where(), num, typ)
		default:
			n := protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return &protoError{where(), protowire.ParseError(n).Error()}
			}
			b = b[n:]
		}
	}
	e.Timestamp = time.Unix(sec, nsec).UTC()
	return nil
}

// Timestamp bounds checked by gogo's TimestampFromProto.
const (
	minSeconds = -62135596800 // 0001-01-01T00:00:00Z
	maxSeconds = 253402300800 // 10000-01-01T00:00:00Z
)

func decodeTimestamp(b []byte) (sec, nsec int64, err error) {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return 0, 0, protowire.ParseError(n)
		}
		b = b[n:]
		if (num == 1 || num == 2) && typ != protowire.VarintType {
			return 0, 0, fmt.Errorf("wrong wireType = %d for field %d", typ, num)
		}
		if num == 1 || num == 2 {
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return 0, 0, protowire.ParseError(n)
			}
			if num == 1 {
				sec = int64(v)
			} else {
				nsec = int64(int32(v))
			}
			b = b[n:]
			continue
		}
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return 0, 0, protowire.ParseError(n)
		}
		b = b[n:]
	}
	if sec < minSeconds || sec >= maxSeconds {
		return 0, 0, fmt.Errorf("timestamp: seconds:%d nanos:%d before 0001-01-01 or after 10000-01-01", sec, nsec)
	}
	if nsec < 0 || nsec >= 1e9 {
		return 0, 0, fmt.Errorf("timestamp: seconds:%d nanos:%d: nanos not in range [0, 1e9)", sec, nsec)
	}
	return sec, nsec, nil
}

var errPairType = errors.New("wrong wireType for a LabelPairAdapter field")

func decodePair(b []byte, lp *LabelPair, borrow bool) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		if (num == 1 || num == 2) && typ != protowire.BytesType {
			return errPairType
		}
		if num == 1 || num == 2 {
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return protowire.ParseError(n)
			}
			str := unsafe.String(unsafe.SliceData(v), len(v))
			if !borrow {
				str = string(v)
			}
			if num == 1 {
				lp.Name = str
			} else {
				lp.Value = str
			}
			b = b[n:]
			continue
		}
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
	}
	if !utf8.ValidString(lp.Name) {
		return errors.New("structured metadata name is not valid UTF-8")
	}
	return nil
}
