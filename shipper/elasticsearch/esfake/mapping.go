package esfake

import (
	"fmt"
	"strconv"
	"strings"
)

// fieldType is a dynamically mapped field type.
type fieldType uint8

const (
	ftNone fieldType = iota
	ftObject
	ftLong
	ftFloat
	ftBoolean
	ftDate
	ftText // text with a keyword sub-field, as dynamic mapping makes strings
)

func (t fieldType) String() string {
	return [...]string{"none", "object", "long", "float", "boolean", "date", "text"}[t]
}

// weight is how many fields a mapping counts against total_fields.limit.
func (t fieldType) weight() int {
	if t == ftText {
		return 2 // the text field and its .keyword multi-field
	}
	return 1
}

// mapping is an index's dynamic mapping: dotted path → type.
type mapping struct {
	fields     map[string]fieldType
	count      int
	dataStream bool
}

type mappingUpdate struct {
	add []pathType
}

type pathType struct {
	path string
	t    fieldType
}

func (m *mapping) init(dataStream bool) {
	m.fields = map[string]fieldType{}
	m.dataStream = dataStream
	if dataStream {
		m.fields["@timestamp"] = ftDate
		m.count = 1
	}
}

func (m *mapping) commit(u *mappingUpdate) {
	if u == nil {
		return
	}
	for _, f := range u.add {
		if m.fields[f.path] == ftNone {
			m.fields[f.path] = f.t
			m.count += f.t.weight()
		}
	}
}

// metadataFields may not appear at the top of a document.
var metadataFields = map[string]bool{
	"_id": true, "_index": true, "_routing": true, "_source": true, "_seq_no": true, "_primary_term": true,
	"_version": true, "_ignored": true, "_field_names": true, "_doc_count": true, "_tier": true,
	"_data_stream_timestamp": true, "_nested_path": true, "_ignored_source": true,
}

// docWalk checks one document against a mapping.
type docWalk struct {
	m       *mapping
	st      *store
	id      string
	sc      scanner
	upd     mappingUpdate
	pending map[string]fieldType
	hasTS   int // values seen for @timestamp at the top level
}

// check walks src as DocumentParser does: it must be one JSON object whose
// values fit the fields already mapped; unmapped fields are added (returned,
// committed by the caller only if the whole item succeeds).
func (m *mapping) check(src []byte, id string, st *store) (*mappingUpdate, *esError) {
	w := &st.walk // the caller commits or drops w.upd before the next check
	w.m, w.st, w.id, w.hasTS = m, st, id, 0
	w.upd.add = w.upd.add[:0]
	clear(w.pending)
	w.sc.reset(src)
	tok, err := w.sc.next()
	if err != nil {
		return nil, st.parsingError(failedToParse(err), nil)
	}
	if tok.kind != tStartObject {
		return nil, st.parsingError("Malformed content, must start with an object", nil)
	}
	if e := w.object(""); e != nil {
		return nil, e
	}
	if tok, err = w.sc.next(); err != nil {
		return nil, st.parsingError(failedToParse(err), nil)
	} else if tok.kind != tEOF {
		return nil, illegalArgument("Malformed content, found extra data after parsing: " + tok.kind.String())
	}
	if m.dataStream && w.hasTS == 0 {
		const why = "data stream timestamp field [@timestamp] is missing"
		return nil, st.parsingError(fmt.Sprintf("[1:%d] failed to parse: %s", len(src), why), illegalArgument(why))
	}
	return &w.upd, nil
}

func (w *docWalk) typeOf(p string) fieldType {
	if t := w.m.fields[p]; t != ftNone {
		return t
	}
	return w.pending[p]
}

func (w *docWalk) add(col int, p string, t fieldType) *esError {
	if w.pending == nil {
		w.pending = map[string]fieldType{}
	}
	w.pending[p] = t
	w.upd.add = append(w.upd.add, pathType{p, t})
	total := w.m.count
	for _, f := range w.upd.add {
		total += f.t.weight()
	}
	if limit := w.st.opts.TotalFieldsLimit; total > limit {
		why := fmt.Sprintf("Limit of total fields [%d] has been exceeded while adding new fields [%d]", limit, len(w.upd.add))
		return w.fail(col, "failed to parse: "+why, illegalArgument(why))
	}
	return nil
}

// fail reports a mapping failure at the column of the token being read, as
// DocumentParser reports parser.getTokenLocation().
func (w *docWalk) fail(col int, reason string, cause *esError) *esError {
	return w.st.parsingError(fmt.Sprintf("[1:%d] %s", col, reason), cause)
}

func join(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

// object reads the fields of an object whose '{' was just read.
func (w *docWalk) object(prefix string) *esError {
	for {
		tok, err := w.sc.next()
		if err != nil {
			return w.st.parsingError(failedToParse(err), nil)
		}
		if tok.kind == tEndObject {
			return nil
		}
		name, _ := tok.text()
		switch {
		case name == "":
			return w.fail(tok.col, "failed to parse: Field name cannot be an empty string", illegalArgument("Field name cannot be an empty string"))
		case strings.TrimSpace(name) == "":
			return w.fail(tok.col, fmt.Sprintf("Field name cannot contain only whitespace: [%s]", join(prefix, name)), nil)
		case prefix == "" && metadataFields[name]:
			why := fmt.Sprintf("Field [%s] is a metadata field and cannot be added inside a document. Use the index API request parameters.", name)
			return w.fail(tok.col, "failed to parse: "+why, illegalArgument(why))
		case strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".") || strings.Contains(name, ".."):
			why := fmt.Sprintf("object field starting or ending with a [.] makes object resolution ambiguous: [%s]", name)
			return w.fail(tok.col, "failed to parse: "+why, illegalArgument(why))
		}
		full := join(prefix, name)
		// A dotted name is the objects it names: a.b is {"a":{"b":…}}.
		for i := len(full) - len(name); i < len(full); i++ {
			if full[i] == '.' {
				if e := w.need(tok.col, full[:i], ftObject, leaf(full[:i]), nil); e != nil {
					return e
				}
			}
		}
		val, err := w.sc.next()
		if err != nil {
			return w.st.parsingError(failedToParse(err), nil)
		}
		if e := w.value(full, leaf(full), val); e != nil {
			return e
		}
	}
}

func leaf(p string) string {
	if i := strings.LastIndexByte(p, '.'); i >= 0 {
		return p[i+1:]
	}
	return p
}

// value reads the value that starts with tok for the field at path p.
func (w *docWalk) value(p, name string, tok token) *esError {
	if p == "@timestamp" && tok.kind != tNull && tok.kind != tStartArray {
		w.hasTS++
	}
	switch tok.kind {
	case tNull:
		return nil
	case tStartArray:
		for {
			el, err := w.sc.next()
			if err != nil {
				return w.st.parsingError(failedToParse(err), nil)
			}
			if el.kind == tEndArray {
				return nil
			}
			if e := w.value(p, name, el); e != nil {
				return e
			}
		}
	case tStartObject:
		switch t := w.typeOf(p); t {
		case ftNone:
			if e := w.add(tok.col, p, ftObject); e != nil {
				return e
			}
		case ftObject:
		default:
			start := tok.col - 1
			if err := w.sc.skipValue(tok); err != nil {
				return w.st.parsingError(failedToParse(err), nil)
			}
			preview := string(w.sc.b[start:w.sc.pos])
			return w.fail(tok.col, fmt.Sprintf("failed to parse field [%s] of type [%s] in document with id '%s'. Preview of field's value: '%s'", p, t, w.id, preview),
				&esError{Status: 400, Type: "illegal_state_exception", Reason: fmt.Sprintf("Can't get text on a START_OBJECT at 1:%d", tok.col)})
		}
		return w.object(p)
	}
	text, _ := tok.text()
	return w.need(tok.col, p, detect(tok, text), name, &scalar{tok: tok, text: text})
}

type scalar struct {
	tok  token
	text string
}

// need makes sure the field at p takes a value of the dynamically detected
// type want (an object for want == ftObject), mapping it when new.
func (w *docWalk) need(col int, p string, want fieldType, name string, v *scalar) *esError {
	have := w.typeOf(p)
	if have == ftNone {
		return w.add(col, p, want)
	}
	if have == ftObject {
		if want == ftObject {
			return nil
		}
		return w.fail(col, fmt.Sprintf("object mapping for [%s] tried to parse field [%s] as object, but found a concrete value", p, name), nil)
	}
	if v == nil { // a dotted name needs p as an object, but p is a concrete field
		return w.fail(col, fmt.Sprintf("Could not dynamically add mapping for field [%s]. Existing mapping for [%s] must be of type object but found [%s].", p, p, have), nil)
	}
	if cause := fits(have, v); cause != nil {
		return w.fail(col, fmt.Sprintf("failed to parse field [%s] of type [%s] in document with id '%s'. Preview of field's value: '%s'", p, have, w.id, v.text), cause)
	}
	return nil
}

// detect is dynamic mapping's choice for a new scalar field.
func detect(tok token, text string) fieldType {
	switch tok.kind {
	case tBool:
		return ftBoolean
	case tNumber:
		if strings.ContainsAny(text, ".eE") {
			return ftFloat
		}
		return ftLong
	}
	if isDate(text) {
		return ftDate
	}
	return ftText
}

// fits reports why a scalar does not fit a mapped field type (nil if it does),
// with coercion as Elasticsearch applies it by default.
func fits(t fieldType, v *scalar) *esError {
	switch t {
	case ftText:
		return nil
	case ftLong, ftFloat:
		switch v.tok.kind {
		case tNumber:
			return nil
		case tString:
			if _, err := strconv.ParseFloat(strings.TrimSpace(v.text), 64); err == nil {
				return nil
			}
			return illegalArgument(fmt.Sprintf("For input string: \"%s\"", v.text))
		}
		return illegalArgument(fmt.Sprintf("Current token (%s) not numeric, can not use numeric value accessors", v.tok.kind))
	case ftBoolean:
		if v.tok.kind == tBool || v.text == "true" || v.text == "false" || v.text == "" {
			return nil
		}
		return illegalArgument(fmt.Sprintf("Failed to parse value [%s] as only [true] or [false] are allowed.", v.text))
	case ftDate:
		if v.tok.kind == tNumber || isDate(v.text) || isDigits(v.text) {
			return nil
		}
		return illegalArgument(fmt.Sprintf("failed to parse date field [%s] with format [strict_date_optional_time||epoch_millis]", v.text))
	}
	return nil
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	if s[0] == '-' {
		s = s[1:]
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// isDate accepts what dynamic date detection and strict_date_optional_time
// accept: yyyy-MM-dd['T'HH[:mm[:ss[.S…]]][zone]], yyyy/MM/dd[ HH:mm:ss[ Z]].
func isDate(s string) bool {
	num := func(i, n, lo, hi int) bool {
		if i+n > len(s) {
			return false
		}
		v := 0
		for _, c := range []byte(s[i : i+n]) {
			if c < '0' || c > '9' {
				return false
			}
			v = v*10 + int(c-'0')
		}
		return v >= lo && v <= hi
	}
	if len(s) < 10 || !num(0, 4, 0, 9999) || !num(5, 2, 1, 12) || !num(8, 2, 1, 31) {
		return false
	}
	switch sep := s[4]; {
	case sep == '-' && s[7] == '-':
		rest := s[10:]
		if rest == "" {
			return true
		}
		if rest[0] != 'T' || !num(11, 2, 0, 23) {
			return false
		}
		i := 13
		if i < len(s) && s[i] == ':' {
			if !num(i+1, 2, 0, 59) {
				return false
			}
			i += 3
			if i < len(s) && s[i] == ':' {
				if !num(i+1, 2, 0, 60) {
					return false
				}
				i += 3
				if i < len(s) && (s[i] == '.' || s[i] == ',') {
					j := i + 1
					for j < len(s) && s[j] >= '0' && s[j] <= '9' {
						j++
					}
					if j == i+1 || j-i-1 > 9 {
						return false
					}
					i = j
				}
			}
		}
		return isZone(s[i:])
	case sep == '/' && s[7] == '/':
		rest := s[10:]
		return rest == "" || len(rest) >= 9 && rest[0] == ' ' && num(11, 2, 0, 23) && s[13] == ':' && num(14, 2, 0, 59) && s[16] == ':' && num(17, 2, 0, 60) &&
			(len(rest) == 9 || rest[9] == ' ' && isZone(rest[10:]))
	}
	return false
}

func isZone(z string) bool {
	if z == "" || z == "Z" {
		return true
	}
	if z[0] != '+' && z[0] != '-' {
		return false
	}
	d := strings.ReplaceAll(z[1:], ":", "")
	return (len(d) == 2 || len(d) == 4) && isDigits(d)
}
