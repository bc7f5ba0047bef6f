package lines

import (
	"time"

	"github.com/capstan-agent/capstan/spool/batch"
)

// AppendNDJSON appends a record as one NDJSON line,
// {"ts":"<RFC 3339>","attrs":{…},"body":…} and a newline: the batch's
// source attributes src first, then the record's own, which win on a clash
// only in the reader's eyes (both are written). Values keep their kinds
// (batch.AppendJSONValue): strings are quoted, numbers and booleans bare,
// null as null, objects and arrays nested; every attribute of a version 1
// batch, and every body but a typed one, is a string. Invalid UTF-8 becomes
// U+FFFD. It does not allocate beyond growing out. The stdout, file and tcp
// outputs all write this.
func AppendNDJSON(out []byte, src batch.AttrIter, rec *batch.Record) []byte {
	out = append(out, `{"ts":"`...)
	out = time.Unix(0, rec.Timestamp).UTC().AppendFormat(out, time.RFC3339Nano)
	out = append(out, '"')
	own := rec.Attrs()
	if src.Len()+own.Len() > 0 {
		out = append(out, `,"attrs":{`...)
		first := true
		for _, it := range []*batch.AttrIter{&src, &own} {
			for a, ok := it.NextAttr(); ok; a, ok = it.NextAttr() {
				if !first {
					out = append(out, ',')
				}
				first = false
				out = batch.AppendJSONString(out, a.Key)
				out = append(out, ':')
				out = batch.AppendJSONValue(out, a)
			}
		}
		out = append(out, '}')
	}
	out = append(out, `,"body":`...)
	out = batch.AppendJSONValue(out, rec.BodyValue())
	return append(out, '}', '\n')
}
