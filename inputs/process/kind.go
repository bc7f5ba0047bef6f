package process

// The record model shared with spool/batch. Kind and Field mirror
// batch.Kind and batch.Attr value for value and field for field; when the
// batch package has them, this file becomes aliases (type Kind = batch.Kind,
// type Field = batch.Attr, the constants = batch's, Kind's String method
// dropped for batch's) and nothing else changes. Kind's names (string, int,
// float, bool, null, json) appear in the test runner's reports.

// Kind is the type of a field's value. Value bytes are always the canonical
// JSON-compatible text of the value: a string raw (not quoted), an int in
// decimal, a float in its shortest round-trip form, true or false, nothing
// for null, and compact JSON text for an object or array.
type Kind uint8

// Kinds of values. The zero value is a string.
const (
	KindString Kind = iota
	KindInt
	KindFloat
	KindBool
	KindNull
	KindJSON
)

var kindNames = [...]string{"string", "int", "float", "bool", "null", "json"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "kind?"
}

// Field is one key and its typed value.
type Field struct {
	Key, Value []byte
	Kind       Kind
}
