package esfake

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/maphash"
	"path"
	"reflect"
	"slices"
	"strings"

	"github.com/capstan-agent/capstan/shipper/internal/hashset"
)

// Document is a stored document.
type Document struct {
	ID      string
	Source  json.RawMessage // the document line as sent (or as merged by update)
	Version int64
	SeqNo   int64
}

// store is the cluster's state. Its methods run under Fake.mu.
type store struct {
	opts        Options
	clusterUUID string
	indices     map[string]*index
	idPrefix    [7]byte
	idSeq       uint64
	seed        maphash.Seed
	sc          scanner // reused by validateOnly
	walk        docWalk // reused by mapping checks
	validName   string  // the last index name validateIndexName accepted
	touched     uint64  // what touch read, kept so that its loads stay
	last        *index  // what resolve returned last (indices are never removed)
}

type index struct {
	name       string // the name clients write to: the index or the data stream
	concrete   string // the index documents land in: the name, or the backing index
	uuid       string
	dataStream bool
	closed     bool
	docs       map[string]*doc // storage on
	order      []*doc          // storage on: in order of first creation
	ids        hashset.Set     // storage off: hashes of the live ids
	live       int64
	seqNo      int64 // the next sequence number
	mapping    mapping
	// shardFields are index_uuid, shard and index, rendered once.
	shardFields []jsonField
}

type doc struct {
	id      string
	source  []byte
	version int64
	seqNo   int64
	live    bool
}

func (st *store) init(opts Options) {
	st.opts = opts
	st.indices, st.last = make(map[string]*index), nil
	st.seed = maphash.MakeSeed()
	rand.Read(st.idPrefix[:])
	st.clusterUUID = randomUUID()
}

// randomUUID returns a 22-character base64url id like Elasticsearch's UUIDs.
func randomUUID() string {
	var b [16]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// autoID returns a fresh 20-character id, as Elasticsearch's time-based
// UUIDs are 20 base64url characters.
func (st *store) autoID() string {
	var b [15]byte
	copy(b[:7], st.idPrefix[:])
	st.idSeq++
	binary.BigEndian.PutUint64(b[7:], st.idSeq)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func (st *store) isDataStream(name string) bool {
	for _, p := range st.opts.DataStreams {
		if ok, _ := path.Match(p, name); ok {
			return true
		}
	}
	return false
}

// resolve returns the index or data stream name, creating it on first use
// as action.auto_create_index does.
func (st *store) resolve(name string) *index {
	if st.last != nil && st.last.name == name {
		return st.last
	}
	if ix := st.indices[name]; ix != nil {
		st.last = ix
		return ix
	}
	ix := &index{name: name, concrete: name, uuid: randomUUID(), seqNo: 0}
	if st.isDataStream(name) {
		ix.dataStream = true
		if st.opts.Flavor == OpenSearch {
			ix.concrete = fmt.Sprintf(".ds-%s-000001", name)
		} else {
			ix.concrete = fmt.Sprintf(".ds-%s-%s-000001", name, st.opts.Now().UTC().Format("2006.01.02"))
		}
	}
	if !st.opts.StorageOff {
		ix.docs = make(map[string]*doc)
		ix.mapping.init(ix.dataStream)
	}
	st.indices[name] = ix
	st.last = ix
	return ix
}

func (st *store) closeIndex(name string) { st.resolve(name).closed = true }

// validateIndexName applies MetadataCreateIndexService's rules for a new
// index (the error an item gets when auto-creation refuses the name).
func validateIndexName(name string) *esError {
	bad := func(why string) *esError {
		return &esError{Status: 400, Type: "invalid_index_name_exception",
			Reason: fmt.Sprintf("Invalid index name [%s], %s", name, why),
			Extra:  []jsonField{{"index_uuid", `"_na_"`}, {"index", quoteJSON(name)}}}
	}
	switch {
	case name == "":
		return bad("must not be empty")
	case strings.ContainsAny(name, "\\/*?\"<>| ,"):
		return bad(`must not contain the following characters [ , ", *, \, <, |, ,, >, /, ?]`)
	case strings.Contains(name, "#"):
		return bad("must not contain '#'")
	case strings.Contains(name, ":"):
		return bad("must not contain ':'")
	case name[0] == '_' || name[0] == '-' || name[0] == '+':
		return bad("must not start with '_', '-', or '+'")
	case name == "." || name == "..":
		return bad("must not be '.' or '..'")
	case len(name) > 255:
		return bad(fmt.Sprintf("index name is too long, (%d > 255)", len(name)))
	case strings.ToLower(name) != name:
		return bad("must be lowercase")
	}
	return nil
}

// result is one item's answer.
type result struct {
	action  string
	index   string // _index as reported
	id      string
	hasID   bool
	status  int
	result  string // created, updated, deleted, not_found, noop; "" on failure
	version int64
	seqNo   int64
	noop    bool
	exists  bool // a create found the id live: the replay an exactly-once output expects
	err     *esError
}

// apply runs one item against the cluster. fault, when not NoFault, makes
// the item fail the way the fault names instead of being applied.
func (st *store) apply(it *item, fault ItemFault) result {
	r := result{action: it.action, index: it.index, id: it.id, hasID: it.hasID}
	fail := func(e *esError) result {
		r.status, r.err = e.Status, e
		return r
	}
	// The name's check is a function of the name: the last good one is kept.
	if it.index == "" || it.index != st.validName {
		if e := validateIndexName(it.index); e != nil {
			return fail(e)
		}
		st.validName = it.index
	}
	if it.requireAlias {
		return fail(&esError{Status: 404, Type: "index_not_found_exception",
			Reason: fmt.Sprintf("no such index [%s] and [require_alias] request flag is [true] and [%s] is not an alias", it.index, it.index),
			Extra:  []jsonField{{"resource.type", `"index_expression"`}, {"resource.id", quoteJSON(it.index)}, {"index_uuid", `"_na_"`}, {"index", quoteJSON(it.index)}}})
	}
	if it.requireDataStream && !st.isDataStream(it.index) {
		return fail(illegalArgument(fmt.Sprintf("index [%s] does not exist or is not a data stream and [require_data_stream] request flag is [true]", it.index)))
	}
	ix := st.resolve(it.index)
	if ix.dataStream && it.op != opCreate {
		return fail(illegalArgument("only write ops with an op_type of create are allowed in data streams"))
	}
	r.index = ix.concrete
	if ix.closed || fault == IndexClosed400 {
		return fail(&esError{Status: 400, Type: "index_closed_exception", Reason: "closed",
			Extra: []jsonField{{"index_uuid", quoteJSON(ix.uuid)}, {"index", quoteJSON(ix.concrete)}}})
	}
	if it.pipeline != "" && it.pipeline != "_none" {
		return fail(illegalArgument(fmt.Sprintf("pipeline with id [%s] does not exist", it.pipeline)))
	}
	if !it.hasID {
		r.id, r.hasID = st.autoID(), true
	}
	if fault != NoFault {
		return fail(fault.esError(st, ix, r.id, it))
	}
	if it.versioned {
		return fail(illegalArgument("esfake: external versioning (version, version_type) is not implemented"))
	}
	switch it.op {
	case opIndex, opCreate:
		return st.write(ix, it, r)
	case opDelete:
		return st.delete(ix, it, r)
	default:
		return st.update(ix, it, r)
	}
}

// checkSource validates a document line as DocumentParser does, and maps
// its new fields; it returns the mapping additions to commit on success.
func (st *store) checkSource(ix *index, src []byte, id string) (*mappingUpdate, *esError) {
	if len(src) == 0 {
		return nil, st.parsingError("[0:0] failed to parse, document is empty", nil)
	}
	if st.opts.StorageOff {
		return nil, st.validateOnly(src)
	}
	return ix.mapping.check(src, id, st)
}

func (st *store) parsingError(reason string, cause *esError) *esError {
	typ := "document_parsing_exception"
	if st.opts.Flavor == OpenSearch {
		typ = "mapper_parsing_exception"
	}
	return &esError{Status: 400, Type: typ, Reason: reason, CausedBy: cause}
}

// validateOnly checks that src is one JSON object and nothing more.
func (st *store) validateOnly(src []byte) *esError {
	if validObject(src) {
		return nil
	}
	return st.validateSlow(src)
}

// validateSlow is validateOnly by the scanner, which words the errors.
func (st *store) validateSlow(src []byte) *esError {
	s := &st.sc
	s.reset(src)
	tok, err := s.next()
	if err != nil {
		return st.parsingError(failedToParse(err), nil)
	}
	if tok.kind != tStartObject {
		return st.parsingError("Malformed content, must start with an object", nil)
	}
	if err := s.skipValue(tok); err != nil {
		return st.parsingError(failedToParse(err), nil)
	}
	if tok, err = s.next(); err != nil {
		return st.parsingError(failedToParse(err), nil)
	} else if tok.kind != tEOF {
		return illegalArgument("Malformed content, found extra data after parsing: " + tok.kind.String())
	}
	return nil
}

func failedToParse(err error) string {
	if se, ok := err.(*syntaxError); ok {
		return fmt.Sprintf("[1:%d] failed to parse: %s", se.col, se.msg)
	}
	return "failed to parse: " + err.Error()
}

func (st *store) hashID(id string) uint64 { return maphash.String(st.seed, id) }

// touchBatch is how many items touch runs ahead of apply.
const touchBatch = 128

// touch has the ids' slots of items fetched from memory together, before
// apply looks them up one at a time (storage off: the set of millions of
// ids is beyond the caches, and one miss after the other is the cost). It
// hashes every id first, then loads the slots in a loop of nothing else,
// so that the loads are in flight at once (with the hashing between them
// only a few are). It changes nothing but the items' hashes.
func (st *store) touch(items []item) {
	var ix *index
	for i := range items {
		if it := &items[i]; it.hasID {
			it.idHash, it.hashed = st.hashID(it.id), true
		}
	}
	var sink uint64
	for i := range items {
		it := &items[i]
		if !it.hashed {
			continue
		}
		if ix == nil || ix.name != it.index {
			if ix = st.indices[it.index]; ix == nil {
				continue
			}
		}
		sink += ix.ids.Touch(it.idHash)
	}
	st.touched += sink
}

// hashOf is the hash of the id an item writes: the one touch took, or
// taken now (an id the store made up has none yet).
func (st *store) hashOf(it *item, id string) uint64 {
	if it.hashed && it.id == id {
		return it.idHash
	}
	return st.hashID(id)
}

func (st *store) lookup(ix *index, it *item, id string) (d *doc, exists bool) {
	if st.opts.StorageOff {
		return nil, ix.ids.Has(st.hashOf(it, id))
	}
	d = ix.docs[id]
	return d, d != nil && d.live
}

func (st *store) seqCheck(ix *index, it *item, d *doc, exists bool, id string) *esError {
	if it.ifSeqNo == unassigned && it.ifPrimaryTerm == unassigned || st.opts.StorageOff {
		return nil
	}
	reason := fmt.Sprintf("[%s]: version conflict, required seqNo [%d], primary term [%d]. ", id, it.ifSeqNo, it.ifPrimaryTerm)
	switch {
	case !exists:
		reason += "but no document was found"
	case d.seqNo != it.ifSeqNo || it.ifPrimaryTerm != 1:
		reason += fmt.Sprintf("current document has seqNo [%d] and primary term [1]", d.seqNo)
	default:
		return nil
	}
	return (&esError{Status: 409, Type: "version_conflict_engine_exception", Reason: reason}).onShard(ix)
}

func (st *store) write(ix *index, it *item, r result) result {
	var upd *mappingUpdate
	var e *esError
	if !it.validSource || !st.opts.StorageOff {
		upd, e = st.checkSource(ix, it.source, r.id)
	}
	if e != nil {
		r.status, r.err = e.Status, e
		return r
	}
	d, exists := st.lookup(ix, it, r.id)
	if it.op == opCreate && exists {
		version := int64(1)
		if d != nil {
			version = d.version
		}
		e := &esError{Status: 409, Type: "version_conflict_engine_exception",
			Reason: fmt.Sprintf("[%s]: version conflict, document already exists (current version [%d])", r.id, version)}
		r.status, r.err, r.exists = 409, e.onShard(ix), true
		return r
	}
	if e := st.seqCheck(ix, it, d, exists, r.id); e != nil {
		r.status, r.err = 409, e
		return r
	}
	ix.mapping.commit(upd)
	r.seqNo = ix.seqNo
	ix.seqNo++
	r.status, r.result, r.version = 201, "created", 1
	if exists {
		r.status, r.result, r.version = 200, "updated", 2
	}
	st.store(ix, it, r.id, it.source, exists, &r)
	return r
}

// store records a write of src under id; r.version is set from the history
// of id when documents are kept.
func (st *store) store(ix *index, it *item, id string, src []byte, exists bool, r *result) {
	if st.opts.StorageOff {
		ix.ids.Add(st.hashOf(it, id))
		if !exists {
			ix.live++
		}
		return
	}
	d := ix.docs[id]
	switch {
	case d == nil:
		d = &doc{id: id, version: 0}
		ix.docs[id] = d
		ix.order = append(ix.order, d)
		fallthrough
	case !d.live:
		ix.live++
	}
	d.source = bytes.Clone(src)
	d.version++
	d.seqNo = r.seqNo
	d.live = true
	r.version = d.version
}

func (st *store) delete(ix *index, it *item, r result) result {
	d, exists := st.lookup(ix, it, r.id)
	if e := st.seqCheck(ix, it, d, exists, r.id); e != nil {
		r.status, r.err = 409, e
		return r
	}
	r.seqNo = ix.seqNo
	ix.seqNo++
	if !exists {
		r.status, r.result, r.version = 404, "not_found", 1
		return r
	}
	r.status, r.result, r.version = 200, "deleted", 2
	ix.live--
	if st.opts.StorageOff {
		ix.ids.Remove(st.hashOf(it, r.id))
		return r
	}
	d.live = false
	d.version++
	d.seqNo = r.seqNo
	r.version = d.version
	return r
}

func (st *store) update(ix *index, it *item, r result) result {
	u := &it.update
	fail := func(e *esError) result {
		r.status, r.err = e.Status, e
		return r
	}
	if u.script {
		return fail(illegalArgument("esfake: update scripts are not implemented"))
	}
	d, exists := st.lookup(ix, it, r.id)
	if e := st.seqCheck(ix, it, d, exists, r.id); e != nil {
		return fail(e)
	}
	var merged []byte
	switch {
	case exists && !st.opts.StorageOff:
		m, noop, err := mergeDoc(d.source, u.doc)
		if err != nil {
			return fail(st.parsingError(failedToParse(err), nil))
		}
		if noop && u.detectNoop {
			r.status, r.result, r.version, r.seqNo, r.noop = 200, "noop", d.version, d.seqNo, true
			return r
		}
		merged = m
	case exists:
		merged = u.doc
	case u.upsert != nil:
		merged = u.upsert
	case u.docAsUpsert:
		merged = u.doc
	default:
		return fail((&esError{Status: 404, Type: "document_missing_exception", Reason: fmt.Sprintf("[%s]: document missing", r.id)}).onShard(ix))
	}
	upd, e := st.checkSource(ix, merged, r.id)
	if e != nil {
		return fail(e)
	}
	ix.mapping.commit(upd)
	r.seqNo = ix.seqNo
	ix.seqNo++
	r.status, r.result, r.version = 201, "created", 1
	if exists {
		r.status, r.result, r.version = 200, "updated", 2
	}
	st.store(ix, it, r.id, merged, exists, &r)
	return r
}

// mergeDoc merges a partial document into a stored one the way an update's
// "doc" does: objects recursively, everything else replaced.
func mergeDoc(stored, partial []byte) (merged []byte, noop bool, err error) {
	var base, part map[string]any
	dec := func(b []byte, v *map[string]any) error {
		d := json.NewDecoder(bytes.NewReader(b))
		d.UseNumber()
		return d.Decode(v)
	}
	if err := dec(stored, &base); err != nil {
		return nil, false, err
	}
	if err := dec(partial, &part); err != nil {
		return nil, false, err
	}
	before, _ := json.Marshal(base)
	deepMerge(base, part)
	after, _ := json.Marshal(base)
	if bytes.Equal(before, after) {
		return stored, true, nil
	}
	return after, false, nil
}

func deepMerge(dst, src map[string]any) {
	for k, v := range src {
		if sv, ok := v.(map[string]any); ok {
			if dv, ok := dst[k].(map[string]any); ok {
				deepMerge(dv, sv)
				continue
			}
		}
		if !reflect.DeepEqual(dst[k], v) {
			dst[k] = v
		}
	}
}

// documents returns the live documents of name in order of first creation.
func (st *store) documents(name string) []Document {
	ix := st.indices[name]
	if ix == nil {
		return nil
	}
	out := make([]Document, 0, ix.live)
	for _, d := range ix.order {
		if d.live {
			out = append(out, Document{ID: d.id, Source: bytes.Clone(d.source), Version: d.version, SeqNo: d.seqNo})
		}
	}
	return out
}

func (st *store) names() []string {
	out := make([]string, 0, len(st.indices))
	for name := range st.indices {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}
