package process

import "github.com/capstan-agent/capstan/spool/batch"

// The record model is spool/batch's: Kind and Field are batch.Kind and
// batch.Attr. Kind's names (string, int, float, bool, null, json) appear in
// the test runner's reports.

// Kind is the type of a field's value (batch.Kind): value bytes are always
// the canonical JSON-compatible text of the value.
type Kind = batch.Kind

// Kinds of values. The zero value is a string.
const (
	KindString = batch.KindString
	KindInt    = batch.KindInt
	KindFloat  = batch.KindFloat
	KindBool   = batch.KindBool
	KindNull   = batch.KindNull
	KindJSON   = batch.KindJSON
)

// Field is one key and its typed value: a batch.Attr, so a processed
// record's fields go into a batch as they are.
type Field = batch.Attr
