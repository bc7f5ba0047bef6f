package otlptest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Record is one LogRecord as the receiver got it (or as a front saw it in a
// request), with its resource and scope. The receiver's JSON line format is in
// docs/testing.md.
type Record struct {
	// Request is the number of the request that carried the record: the
	// receiver's count (from 1, across restarts) or the front's exchange number.
	Request                int      `json:"request"`
	Resource               Resource `json:"resource"`
	Scope                  Scope    `json:"scope"`
	TimeUnixNano           uint64   `json:"time_unix_nano"`
	ObservedTimeUnixNano   uint64   `json:"observed_time_unix_nano"`
	SeverityNumber         int32    `json:"severity_number"`
	SeverityText           string   `json:"severity_text"`
	EventName              string   `json:"event_name"`
	Body                   Value    `json:"body"`
	Attributes             Attrs    `json:"attributes"`
	DroppedAttributesCount uint32   `json:"dropped_attributes_count"`
	TraceID                string   `json:"trace_id"` // hex, "" when unset
	SpanID                 string   `json:"span_id"`  // hex, "" when unset
	Flags                  uint32   `json:"flags"`
}

// Resource is a record's resource.
type Resource struct {
	Attributes             Attrs  `json:"attributes"`
	DroppedAttributesCount uint32 `json:"dropped_attributes_count"`
	SchemaURL              string `json:"schema_url"`
}

// Scope is a record's instrumentation scope.
type Scope struct {
	Name       string `json:"name"`
	Version    string `json:"version"`
	Attributes Attrs  `json:"attributes"`
	SchemaURL  string `json:"schema_url"`
}

// Attrs are attributes in the order they were sent, duplicates kept (so a test
// can see that an encoder wrote a key twice).
type Attrs []KeyValue

// KeyValue is one attribute.
type KeyValue struct {
	Key   string `json:"key"`
	Value Value  `json:"value"`
}

// Get returns the first value under key.
func (a Attrs) Get(key string) (Value, bool) {
	for _, kv := range a {
		if kv.Key == key {
			return kv.Value, true
		}
	}
	return Value{}, false
}

// Str returns the string under key, or "" when it is missing or not a string.
func (a Attrs) Str(key string) string {
	v, _ := a.Get(key)
	return v.Str
}

// Map returns the attributes as a map of readable values (Value.String); a
// duplicated key keeps its first value.
func (a Attrs) Map() map[string]string {
	m := make(map[string]string, len(a))
	for _, kv := range a {
		if _, ok := m[kv.Key]; !ok {
			m[kv.Key] = kv.Value.String()
		}
	}
	return m
}

// The value types, as pdata names them.
const (
	TypeEmpty  = "Empty"
	TypeStr    = "Str"
	TypeInt    = "Int"
	TypeDouble = "Double"
	TypeBool   = "Bool"
	TypeBytes  = "Bytes"
	TypeSlice  = "Slice"
	TypeMap    = "Map"
)

// Value is an OTLP AnyValue with its type: only the field of Type is set.
type Value struct {
	Type   string
	Str    string
	Int    int64
	Double float64
	Bool   bool
	Bytes  []byte
	Slice  []Value
	Map    Attrs
}

// StrValue, IntValue ... build values for comparisons in tests.
func StrValue(s string) Value        { return Value{Type: TypeStr, Str: s} }
func IntValue(i int64) Value         { return Value{Type: TypeInt, Int: i} }
func DoubleValue(d float64) Value    { return Value{Type: TypeDouble, Double: d} }
func BoolValue(b bool) Value         { return Value{Type: TypeBool, Bool: b} }
func BytesValue(b []byte) Value      { return Value{Type: TypeBytes, Bytes: b} }
func SliceValue(v ...Value) Value    { return Value{Type: TypeSlice, Slice: v} }
func MapValue(kvs ...KeyValue) Value { return Value{Type: TypeMap, Map: kvs} }

// String renders the value with its type, e.g. Str("a"), Int(3), Map{k:Str("v")}.
func (v Value) String() string {
	switch v.Type {
	case TypeStr:
		return "Str(" + strconv.Quote(v.Str) + ")"
	case TypeInt:
		return "Int(" + strconv.FormatInt(v.Int, 10) + ")"
	case TypeDouble:
		return "Double(" + strconv.FormatFloat(v.Double, 'g', -1, 64) + ")"
	case TypeBool:
		return "Bool(" + strconv.FormatBool(v.Bool) + ")"
	case TypeBytes:
		return "Bytes(" + base64.StdEncoding.EncodeToString(v.Bytes) + ")"
	case TypeSlice:
		parts := make([]string, len(v.Slice))
		for i, it := range v.Slice {
			parts[i] = it.String()
		}
		return "Slice[" + strings.Join(parts, ",") + "]"
	case TypeMap:
		parts := make([]string, len(v.Map))
		for i, kv := range v.Map {
			parts[i] = kv.Key + ":" + kv.Value.String()
		}
		return "Map{" + strings.Join(parts, ",") + "}"
	case TypeEmpty, "":
		return "Empty"
	}
	return v.Type + "(?)"
}

// Equal reports whether two values have the same type and content (NaN equals NaN).
func (v Value) Equal(o Value) bool {
	if v.Type != o.Type {
		return false
	}
	switch v.Type {
	case TypeDouble:
		return v.Double == o.Double || (math.IsNaN(v.Double) && math.IsNaN(o.Double))
	case TypeBytes:
		return bytes.Equal(v.Bytes, o.Bytes)
	case TypeSlice:
		if len(v.Slice) != len(o.Slice) {
			return false
		}
		for i := range v.Slice {
			if !v.Slice[i].Equal(o.Slice[i]) {
				return false
			}
		}
		return true
	case TypeMap:
		if len(v.Map) != len(o.Map) {
			return false
		}
		for i := range v.Map {
			if v.Map[i].Key != o.Map[i].Key || !v.Map[i].Value.Equal(o.Map[i].Value) {
				return false
			}
		}
		return true
	}
	return v.Str == o.Str && v.Int == o.Int && v.Bool == o.Bool
}

// UnmarshalJSON reads the receiver's typed form {"type":T,"value":V}.
func (v *Value) UnmarshalJSON(b []byte) error {
	var raw struct {
		Type  string          `json:"type"`
		Value json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return fmt.Errorf("value: %w", err)
	}
	*v = Value{Type: raw.Type}
	var err error
	switch raw.Type {
	case TypeEmpty:
		if len(raw.Value) != 0 {
			err = fmt.Errorf("has a value")
		}
	case TypeStr:
		err = json.Unmarshal(raw.Value, &v.Str)
	case TypeInt:
		err = json.Unmarshal(raw.Value, &v.Int)
	case TypeDouble:
		v.Double, err = decodeDouble(raw.Value)
	case TypeBool:
		err = json.Unmarshal(raw.Value, &v.Bool)
	case TypeBytes:
		var s string
		if err = json.Unmarshal(raw.Value, &s); err == nil {
			v.Bytes, err = base64.StdEncoding.DecodeString(s)
		}
	case TypeSlice:
		err = json.Unmarshal(raw.Value, &v.Slice)
	case TypeMap:
		err = json.Unmarshal(raw.Value, &v.Map)
	default:
		return fmt.Errorf("value: unknown type %q", raw.Type)
	}
	if err != nil {
		return fmt.Errorf("%s value %s: %w", raw.Type, raw.Value, err)
	}
	return nil
}

// decodeDouble reads a JSON number, or the strings "NaN", "+Inf" and "-Inf"
// that the receiver writes for what JSON cannot hold.
func decodeDouble(b []byte) (float64, error) {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return 0, err
		}
		switch s {
		case "NaN", "+Inf", "-Inf":
			return strconv.ParseFloat(s, 64)
		}
		return 0, fmt.Errorf("double %q is not NaN or ±Inf", s)
	}
	var d float64
	err := json.Unmarshal(b, &d)
	return d, err
}

// String renders everything of the record but its request number, in one
// canonical line: two records that print the same are the same record.
func (r Record) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "resource%s", r.Resource.Attributes)
	if r.Resource.DroppedAttributesCount != 0 || r.Resource.SchemaURL != "" {
		fmt.Fprintf(&b, "(dropped=%d schema=%q)", r.Resource.DroppedAttributesCount, r.Resource.SchemaURL)
	}
	fmt.Fprintf(&b, " scope(%q %q %s", r.Scope.Name, r.Scope.Version, r.Scope.Attributes)
	if r.Scope.SchemaURL != "" {
		fmt.Fprintf(&b, " schema=%q", r.Scope.SchemaURL)
	}
	fmt.Fprintf(&b, ") time=%d observed=%d severity=%d/%q", r.TimeUnixNano, r.ObservedTimeUnixNano, r.SeverityNumber, r.SeverityText)
	if r.EventName != "" {
		fmt.Fprintf(&b, " event=%q", r.EventName)
	}
	fmt.Fprintf(&b, " body=%s attributes%s", r.Body, r.Attributes)
	if r.DroppedAttributesCount != 0 {
		fmt.Fprintf(&b, " dropped=%d", r.DroppedAttributesCount)
	}
	if r.TraceID != "" || r.SpanID != "" || r.Flags != 0 {
		fmt.Fprintf(&b, " trace=%s span=%s flags=%d", r.TraceID, r.SpanID, r.Flags)
	}
	return b.String()
}

// String renders the attributes as {k:Type(v),...} in their order.
func (a Attrs) String() string {
	return MapValue(a...).String()[len("Map"):]
}
