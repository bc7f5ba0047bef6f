package esfake

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// opType is a bulk action.
type opType uint8

const (
	opIndex opType = iota
	opCreate
	opUpdate
	opDelete
)

func (o opType) String() string {
	return [...]string{"index", "create", "update", "delete"}[o]
}

const unassigned = -2 // SequenceNumbers.UNASSIGNED_SEQ_NO / UNASSIGNED_PRIMARY_TERM's stand-in

// item is one parsed action with its document line.
type item struct {
	op       opType
	action   string // the action name as written, for the response key
	index    string
	id       string
	hasID    bool
	source   []byte // index/create: the document line, '\r' trimmed
	update   updateBody
	pipeline string
	// ifSeqNo/ifPrimaryTerm are the optimistic concurrency conditions.
	ifSeqNo, ifPrimaryTerm int64
	versioned              bool // version or version_type was given
	requireAlias           bool
	requireDataStream      bool
	line                   int // the action line's number (1-based)
	// validSource: validObject(source) was true when parsed (precheck).
	validSource bool
	// idHash is the store's hash of id, once touch has taken it (hashed).
	idHash uint64
	hashed bool
}

// updateBody is an update action's document line.
type updateBody struct {
	doc, upsert  []byte
	docAsUpsert  bool
	script       bool
	detectNoop   bool
	hasDetectOpt bool
}

// bulkParser holds the scanner it reuses across lines, and interns index
// names (a bulk request names few indices, many times).
type bulkParser struct {
	sc      scanner
	indices map[string]string
	slow    bool // no fast path (tests compare the two)
	// precheck runs validObject on each index/create document as it is
	// parsed (storage off, where that is the whole check).
	precheck bool
	// borrowIDs: fastAction's ids borrow the body (storage off: idString).
	borrowIDs bool
}

// text returns a metadata value; _index values are interned.
func (p *bulkParser) text(tok token, field string) string {
	if field == "_index" {
		if b, ok := tok.plain(); ok {
			return p.intern(b)
		}
	}
	s, _ := tok.text()
	return s
}

// parse reads an NDJSON bulk body as Elasticsearch's BulkRequestParser does
// (the strict parsing of 9.x): a request-level error stops everything, as
// the real server answers 400 without applying any item.
func (p *bulkParser) parse(body []byte, defaultIndex string, items []item) ([]item, *esError) {
	line, from := 0, 0
	for {
		nl := bytes.IndexByte(body[from:], '\n')
		if nl < 0 {
			if from != len(body) {
				return items, illegalArgument(`The bulk request must be terminated by a newline [\n]`)
			}
			break
		}
		end := from + nl
		line++
		var it item
		var skip bool
		var err *esError
		if fast, ok := p.fastAction(body[from:end], line, defaultIndex); ok && !p.slow {
			it = fast
		} else {
			it, skip, err = p.parseAction(body[from:end], line, defaultIndex)
		}
		from = end + 1
		if err != nil {
			return items, err
		}
		if skip {
			continue
		}
		if it.op == opDelete {
			items = append(items, it)
			continue
		}
		nl = bytes.IndexByte(body[from:], '\n')
		if nl < 0 {
			if from != len(body) {
				return items, illegalArgument(`The bulk request must be terminated by a newline [\n]`)
			}
			// Elasticsearch drops a final action that has no document line.
			break
		}
		end = from + nl
		line++
		src := body[from:end]
		if len(src) > 0 && src[len(src)-1] == '\r' {
			src = src[:len(src)-1]
		}
		from = end + 1
		if it.op == opUpdate {
			if err := p.parseUpdate(src, &it.update); err != nil {
				return items, err
			}
		} else {
			it.source = src
			// Checked while the line is in the cache (validObject is a
			// function of the bytes alone); apply trusts the flag.
			it.validSource = p.precheck && len(src) > 0 && validObject(src)
		}
		items = append(items, it)
	}
	if e := validateItems(items); e != nil {
		return items, e
	}
	return items, nil
}

func malformed(line int, format string, args ...any) *esError {
	return illegalArgument(fmt.Sprintf("Malformed action/metadata line [%d], ", line) + fmt.Sprintf(format, args...))
}

// parseAction reads one action/metadata line; skip is true for a blank line.
func (p *bulkParser) parseAction(b []byte, line int, defaultIndex string) (it item, skip bool, e *esError) {
	s := &p.sc
	s.reset(b)
	parseErr := func(err error) *esError {
		var se *syntaxError
		if errors.As(err, &se) && se.eof {
			return badRequest("x_content_e_o_f_exception", err.Error())
		}
		return badRequest("x_content_parse_exception", err.Error())
	}
	tok, err := s.next()
	if err != nil {
		return it, false, parseErr(err)
	}
	if tok.kind == tEOF {
		return it, true, nil
	}
	if tok.kind != tStartObject {
		return it, false, malformed(line, "expected START_OBJECT but found [%s]", tok.kind)
	}
	if tok, err = s.next(); err != nil {
		return it, false, parseErr(err)
	}
	if tok.kind != tField {
		return it, false, malformed(line, "expected FIELD_NAME but found [%s]", tok.kind)
	}
	action := tok.name()
	switch action {
	case "index":
		it.op = opIndex
	case "create":
		it.op = opCreate
	case "update":
		it.op = opUpdate
	case "delete":
		it.op = opDelete
	default:
		return it, false, malformed(line, "expected field [create], [delete], [index] or [update] but found [%s]", action)
	}
	it.action, it.index, it.line = action, defaultIndex, line
	it.ifSeqNo, it.ifPrimaryTerm = unassigned, unassigned
	var opTypeText string
	if tok, err = s.next(); err != nil {
		return it, false, parseErr(err)
	}
	switch tok.kind {
	case tStartObject:
		if e := p.parseMetadata(&it, line, &opTypeText); e != nil {
			return it, false, e
		}
	case tEndObject:
	default:
		return it, false, malformed(line, "expected START_OBJECT or END_OBJECT but found [%s]", tok.kind)
	}
	// checkBulkActionIsProperlyClosed, strict since 9.0.
	if tok, err = s.next(); err != nil {
		return it, false, parseErr(err)
	}
	if tok.kind != tEndObject {
		return it, false, malformed(line, "expected END_OBJECT but found [%s]", tok.kind)
	}
	if tok, err = s.next(); err != nil || tok.kind != tEOF {
		return it, false, malformed(line, "unexpected data after the closing brace")
	}
	if it.op == opIndex && opTypeText == "create" {
		it.op = opCreate
	}
	return it, false, nil
}

func (p *bulkParser) parseMetadata(it *item, line int, opTypeText *string) *esError {
	s := &p.sc
	var field string
	for {
		tok, err := s.next()
		if err != nil {
			return badRequest("x_content_parse_exception", err.Error())
		}
		switch {
		case tok.kind == tEndObject:
			return nil
		case tok.kind == tField:
			field = tok.name()
			continue
		case tok.kind.isValue():
			text := p.text(tok, field)
			if e := setMetadata(it, line, field, tok, text, opTypeText); e != nil {
				return e
			}
		case tok.kind == tNull:
		case tok.kind == tStartArray:
			return malformed(line, "expected a simple value for field [%s] but found [%s]", field, tok.kind)
		case tok.kind == tStartObject && (field == "dynamic_templates" || field == "_source"):
			if err := s.skipValue(tok); err != nil {
				return badRequest("x_content_parse_exception", err.Error())
			}
		default:
			return malformed(line, "expected a simple value for field [%s] but found [%s]", field, tok.kind)
		}
	}
}

func setMetadata(it *item, line int, field string, tok token, text string, opTypeText *string) *esError {
	long := func() (int64, *esError) {
		v, err := strconv.ParseInt(strings.TrimSpace(text), 10, 64)
		if err != nil {
			return 0, badRequest("x_content_parse_exception", fmt.Sprintf("[1:%d] [%s] failed to parse field: For input string: \"%s\"", tok.col, field, text))
		}
		return v, nil
	}
	boolean := func() (bool, *esError) {
		switch text {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
		return false, badRequest("x_content_parse_exception", fmt.Sprintf("[1:%d] Failed to parse value [%s] as only [true] or [false] are allowed.", tok.col, text))
	}
	var e *esError
	switch field {
	case "_index":
		it.index = text
	case "_id":
		it.id, it.hasID = text, true
	case "routing", "retry_on_conflict", "list_executed_pipelines":
		if field == "retry_on_conflict" {
			_, e = long()
		}
	case "op_type":
		*opTypeText = text
	case "version", "version_type":
		it.versioned = true
		if field == "version" {
			_, e = long()
		}
	case "if_seq_no":
		it.ifSeqNo, e = long()
	case "if_primary_term":
		it.ifPrimaryTerm, e = long()
	case "pipeline":
		it.pipeline = text
	case "_source":
	case "require_alias":
		it.requireAlias, e = boolean()
	case "require_data_stream":
		it.requireDataStream, e = boolean()
	default: // _type included: removed in 8.0
		return illegalArgument(fmt.Sprintf("Action/metadata line [%d] contains an unknown parameter [%s]", line, field))
	}
	return e
}

// parseUpdate reads an update action's body as UpdateRequest's parser does;
// its errors fail the whole request, as they do in Elasticsearch.
func (p *bulkParser) parseUpdate(b []byte, u *updateBody) *esError {
	s := &p.sc
	s.reset(b)
	fail := func(col int, msg string) *esError {
		return badRequest("x_content_parse_exception", fmt.Sprintf("[1:%d] [UpdateRequest] %s", col, msg))
	}
	tok, err := s.next()
	if err != nil {
		return badRequest("x_content_parse_exception", err.Error())
	}
	if tok.kind != tStartObject {
		return fail(tok.col, fmt.Sprintf("Expected START_OBJECT but found [%s]", tok.kind))
	}
	var field string
	var fieldCol int
	for {
		tok, err = s.next()
		if err != nil {
			return badRequest("x_content_parse_exception", err.Error())
		}
		if tok.kind == tEndObject {
			break
		}
		if tok.kind == tField {
			field, _ = tok.text()
			fieldCol = tok.col
			continue
		}
		start := tok.col - 1
		if err := s.skipValue(tok); err != nil {
			return badRequest("x_content_parse_exception", err.Error())
		}
		raw := b[start:s.pos]
		switch field {
		case "doc", "upsert":
			if tok.kind != tStartObject {
				return fail(tok.col, fmt.Sprintf("%s doesn't support values of type: %s", field, tok.kind))
			}
			if field == "doc" {
				u.doc = raw
			} else {
				u.upsert = raw
			}
		case "doc_as_upsert", "detect_noop", "scripted_upsert":
			if tok.kind != tBool && tok.kind != tString {
				return fail(tok.col, fmt.Sprintf("%s doesn't support values of type: %s", field, tok.kind))
			}
			v := string(raw) == "true" || string(raw) == `"true"`
			switch field {
			case "doc_as_upsert":
				u.docAsUpsert = v
			case "detect_noop":
				u.detectNoop, u.hasDetectOpt = v, true
			}
		case "script":
			u.script = true
		case "_source", "lang", "if_seq_no", "if_primary_term":
		default:
			return fail(fieldCol, fmt.Sprintf("unknown field [%s]", field))
		}
	}
	if tok, err = s.next(); err != nil || tok.kind != tEOF {
		return badRequest("x_content_parse_exception", fmt.Sprintf("[1:%d] [UpdateRequest] unexpected data after the closing brace", s.pos+1))
	}
	if !u.hasDetectOpt {
		u.detectNoop = true
	}
	return nil
}

// validateItems is BulkRequest.validate: every item's own checks, numbered,
// in one action_request_validation_exception.
func validateItems(items []item) *esError {
	if len(items) == 0 {
		return badRequest("action_request_validation_exception", "Validation Failed: 1: no requests added;")
	}
	var msgs []string
	for i := range items {
		it := &items[i]
		if it.index == "" {
			msgs = append(msgs, "index is missing")
		}
		switch {
		case (it.op == opDelete || it.op == opUpdate) && !it.hasID:
			msgs = append(msgs, "id is missing")
		case it.hasID && it.id == "":
			msgs = append(msgs, "if _id is specified it must not be empty")
		case len(it.id) > 512:
			msgs = append(msgs, fmt.Sprintf("id [%s] is too long, must be no longer than 512 bytes but was: %d", it.id, len(it.id)))
		}
		if it.op == opUpdate {
			if it.versioned {
				msgs = append(msgs, "Update requests do not support versioning. Please use `if_seq_no` and `if_primary_term` instead")
			} else if it.update.doc == nil && !it.update.script {
				msgs = append(msgs, "script or doc is missing")
			}
		}
		if it.op == opCreate && (it.ifSeqNo != unassigned || it.ifPrimaryTerm != unassigned) {
			msgs = append(msgs, "create operations do not support compare and set. use index instead")
		}
	}
	if len(msgs) == 0 {
		return nil
	}
	var b strings.Builder
	b.WriteString("Validation Failed: ")
	for i, m := range msgs {
		fmt.Fprintf(&b, "%d: %s;", i+1, m)
	}
	return badRequest("action_request_validation_exception", b.String())
}
