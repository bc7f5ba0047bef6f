package process

import "bytes"

// Record is the mutable record a chain works on: an input fills it with
// Reset, runs the chain, and appends what is left to the spool.
//
// Byte slices in a record may point into the input's buffer (the body and
// what parsers cut out of it) or into the record's own arena (values a step
// built); the input keeps its buffer unchanged until it has appended the
// record. Nothing of a record is valid after the next Reset.
type Record struct {
	// Time is the record's time in unix nanoseconds.
	Time int64
	// Body is the record's line.
	Body []byte
	// Fields are the record's own typed fields, in the order they were set;
	// keys are unique.
	Fields []Field
	// Source holds the attributes the record's source shares with every
	// record from it (log.file.path, k8s.pod.name, host.name ...). Steps
	// read it and never change it.
	Source []Field
	// Stream is the stream the record is appended to; route sets it.
	Stream string

	arena []byte
}

// Reset starts a new record. fields become the record's first fields (the
// record attributes the input parsed, e.g. syslog's severity): they are
// copied into the record's own slice, their bytes are not.
func (r *Record) Reset(time int64, body []byte, source []Field, stream string, fields ...Field) {
	r.Time, r.Body, r.Source, r.Stream = time, body, source, stream
	if cap(r.Fields) > maxKeptFields {
		r.Fields = nil
	}
	r.Fields = append(r.Fields[:0], fields...)
	if cap(r.arena) > maxKeptArena {
		r.arena = nil
	}
	r.arena = r.arena[:0]
}

// A record keeps its buffers from one record to the next up to these sizes;
// one huge record (a 10 MiB line) does not pin its memory for the life of
// the input.
const (
	maxKeptArena  = 4 << 20
	maxKeptFields = 4096
)

// Get returns the value of the field key.
func (r *Record) Get(key string) (Field, bool) {
	if i := r.index(key); i >= 0 {
		return r.Fields[i], true
	}
	return Field{}, false
}

func (r *Record) index(key string) int {
	for i := range r.Fields {
		if string(r.Fields[i].Key) == key {
			return i
		}
	}
	return -1
}

func (r *Record) indexBytes(key []byte) int {
	for i := range r.Fields {
		if bytes.Equal(r.Fields[i].Key, key) {
			return i
		}
	}
	return -1
}

// sourceValue returns the source attribute key.
func (r *Record) sourceValue(key string) (Field, bool) {
	for _, f := range r.Source {
		if string(f.Key) == key {
			return f, true
		}
	}
	return Field{}, false
}

// set sets key to value, replacing the value of an existing key in place
// (the field keeps its position). Both slices must stay valid for the
// record's life: they point into the body, the arena or configuration.
func (r *Record) set(key []byte, kind Kind, value []byte) {
	if i := r.indexBytes(key); i >= 0 {
		r.Fields[i].Value, r.Fields[i].Kind = value, kind
		return
	}
	r.Fields = append(r.Fields, Field{Key: key, Value: value, Kind: kind})
}

// remove deletes the field at i, keeping the order of the others.
func (r *Record) remove(i int) {
	copy(r.Fields[i:], r.Fields[i+1:])
	r.Fields[len(r.Fields)-1] = Field{}
	r.Fields = r.Fields[:len(r.Fields)-1]
}

// own copies b into the arena. Slices returned earlier stay valid when the
// arena grows: they keep the old array, which is never written again.
func (r *Record) own(b []byte) []byte {
	start := len(r.arena)
	r.arena = append(r.arena, b...)
	return r.arena[start:len(r.arena):len(r.arena)]
}

// ownString is own for a string.
func (r *Record) ownString(s string) []byte {
	start := len(r.arena)
	r.arena = append(r.arena, s...)
	return r.arena[start:len(r.arena):len(r.arena)]
}

// mark returns the arena's length, to be passed to since after appending
// to r.arena directly.
func (r *Record) mark() int { return len(r.arena) }

// since returns what was appended to the arena after mark m.
func (r *Record) since(m int) []byte { return r.arena[m:len(r.arena):len(r.arena)] }

// flag sets the field key to msg unless the record has it already: the
// first failure is the one a user looks for; later ones are often its
// consequence.
func (r *Record) flag(key, msg []byte) {
	if r.indexBytes(key) < 0 {
		r.Fields = append(r.Fields, Field{Key: key, Value: msg})
	}
}
