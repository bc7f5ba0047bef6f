package delivery

import (
	"time"

	"github.com/capstan-agent/capstan/spool/batch"
)

// AppendNDJSON appends rec as one NDJSON line:
// {"ts":"<RFC 3339>","attrs":{…},"body":…} and a newline. attrs holds the
// record's source attributes first, then its own, which win on a clash only
// in the reader's eyes (both are written). Values keep their kinds
// (batch.AppendJSONValue): strings are quoted, numbers and booleans bare,
// null as null, objects and arrays nested; every attribute of a version 1
// batch, and every body but a typed one, is a string. Invalid UTF-8 becomes
// U+FFFD. It does not allocate beyond growing out. The stdout, tcp and file
// outputs and the dead-letter file write this.
func AppendNDJSON(out []byte, rec *Record) []byte {
	return append(appendJSON(out, rec.SourceAttrs(), &rec.Record, nil), '\n')
}

// AppendJSON is AppendNDJSON without the newline.
func AppendJSON(out []byte, rec *Record) []byte {
	return appendJSON(out, rec.SourceAttrs(), &rec.Record, nil)
}

// AppendBatchRecord is AppendNDJSON of a record read from a batch (its
// source attributes src) rather than from the engine: what `capstan spool
// dump` prints.
func AppendBatchRecord(out []byte, src batch.AttrIter, rec *batch.Record) []byte {
	return append(appendJSON(out, src, rec, nil), '\n')
}

func appendJSON(out []byte, src batch.AttrIter, rec *batch.Record, extra []batch.Attr) []byte {
	out = append(out, `{"ts":"`...)
	out = time.Unix(0, rec.Timestamp).UTC().AppendFormat(out, time.RFC3339Nano)
	out = append(out, '"')
	own := rec.Attrs()
	if src.Len()+own.Len()+len(extra) > 0 {
		out = append(out, `,"attrs":{`...)
		first := true
		attr := func(a batch.Attr) {
			if !first {
				out = append(out, ',')
			}
			first = false
			out = batch.AppendJSONString(out, a.Key)
			out = append(out, ':')
			out = batch.AppendJSONValue(out, a)
		}
		for a, ok := src.NextAttr(); ok; a, ok = src.NextAttr() {
			attr(a)
		}
		for a, ok := own.NextAttr(); ok; a, ok = own.NextAttr() {
			attr(a)
		}
		for _, a := range extra {
			attr(a)
		}
		out = append(out, '}')
	}
	out = append(out, `,"body":`...)
	out = batch.AppendJSONValue(out, rec.BodyValue())
	return append(out, '}')
}

// AppendJSONString appends s as a JSON string (batch.AppendJSONString).
func AppendJSONString(out, s []byte) []byte { return batch.AppendJSONString(out, s) }
