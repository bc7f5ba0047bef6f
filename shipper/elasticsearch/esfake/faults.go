package esfake

import (
	"fmt"
	"net/http"
	"time"
)

// Fault disturbs the answer to one bulk request. Faults are queued with
// Script and taken one per bulk request, in the order requests arrive
// (after authentication; a 401 does not consume one).
type Fault struct {
	// Status answers the whole request with this status and the body
	// Elasticsearch sends with it, applying nothing: 429 is
	// es_rejected_execution_exception, 503 cluster_block_exception, 413 an
	// empty body and a closed connection, 500 and others a generic exception.
	Status int
	// Reset closes the connection with a TCP RST before anything is applied.
	Reset bool
	// ResetAfterApply applies the request, then closes the connection with a
	// RST instead of answering: the client cannot know its writes landed.
	ResetAfterApply bool
	// Hang holds the request, applying nothing, until the client goes away
	// or the fake is closed.
	Hang bool
	// Delay applies the request, then waits this long (or until the client
	// goes away) before answering.
	Delay time.Duration
	// Items fails the items at these positions (0-based, in request order)
	// with the given fault instead of applying them.
	Items map[int]ItemFault
}

// ItemFault is how one bulk item fails.
type ItemFault int

const (
	NoFault ItemFault = iota
	// Reject429 is es_rejected_execution_exception (write thread pool or
	// indexing pressure): retry later.
	Reject429
	// MappingError400 is document_parsing_exception (mapper_parsing_exception
	// on OpenSearch): the document can never be indexed as it is.
	MappingError400
	// IndexClosed400 is index_closed_exception.
	IndexClosed400
	// Internal500 is a shard failure with status 500.
	Internal500
	// Unavailable503 is unavailable_shards_exception: the primary is not active.
	Unavailable503
)

func (k ItemFault) String() string {
	switch k {
	case NoFault:
		return "none"
	case Reject429:
		return "429 es_rejected_execution_exception"
	case MappingError400:
		return "400 document_parsing_exception"
	case IndexClosed400:
		return "400 index_closed_exception"
	case Internal500:
		return "500 exception"
	case Unavailable503:
		return "503 unavailable_shards_exception"
	}
	return fmt.Sprintf("ItemFault(%d)", int(k))
}

func (k ItemFault) esError(st *store, ix *index, id string, it *item) *esError {
	switch k {
	case Reject429:
		size := len(it.source) + len(it.update.doc)
		return &esError{Status: 429, Type: "es_rejected_execution_exception",
			Reason: fmt.Sprintf("rejected execution of primary operation [shard_detail=[%s][0][P], shard_primary_bytes=0, shard_replica_bytes=0, coordinating_and_primary_bytes=0, replica_bytes=0, all_bytes=0, primary_operation_bytes=%d, max_coordinating_and_primary_bytes=107374182]", ix.concrete, size)}
	case MappingError400:
		why := fmt.Sprintf("failed to parse field [esfake] of type [long] in document with id '%s'. Preview of field's value: 'injected'", id)
		return st.parsingError("[1:1] "+why, illegalArgument(`For input string: "injected"`))
	case Internal500:
		return (&esError{Status: 500, Type: "illegal_state_exception", Reason: "esfake: injected shard failure"}).onShard(ix)
	case Unavailable503:
		return &esError{Status: 503, Type: "unavailable_shards_exception",
			Reason: fmt.Sprintf("[%s][0] primary shard is not active Timeout: [1m], request: [BulkShardRequest [[%s][0]] containing [1] requests]", ix.concrete, ix.concrete)}
	}
	return &esError{Status: 500, Type: "exception", Reason: "esfake: unknown item fault " + k.String()}
}

// Item describes a bulk item to an ItemRule.
type Item struct {
	Seq     int64  // the item's ordinal among all items the fake has seen, from 0
	Request int64  // the bulk request's ordinal, from 0
	Pos     int    // the item's position in its request, from 0
	Action  string // create, index, update or delete
	Index   string
	ID      string // "" when the client gave none
}

// ItemRule decides, for every item that Script does not fail, whether it
// fails and how. It runs under the fake's lock: it must not call the fake.
type ItemRule func(Item) ItemFault

// FailFraction fails exactly num of every den items, spread evenly over the
// sequence of items (item k fails when ⌊(k+1)·num/den⌋ > ⌊k·num/den⌋), so
// that a re-sent item is no more likely to fail than a new one. It panics
// unless 0 ≤ num ≤ den and den > 0.
func FailFraction(num, den int64, fault ItemFault) ItemRule {
	if den <= 0 || num < 0 || num > den {
		panic(fmt.Sprintf("esfake: FailFraction(%d, %d)", num, den))
	}
	return func(it Item) ItemFault {
		k := it.Seq
		if (k+1)*num/den > k*num/den {
			return fault
		}
		return NoFault
	}
}

// Script queues faults for the next bulk requests, one each, in order.
func (f *Fake) Script(faults ...Fault) {
	f.mu.Lock()
	f.script = append(f.script, faults...)
	f.mu.Unlock()
}

// Pending returns how many scripted faults are not yet consumed.
func (f *Fake) Pending() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.script)
}

// SetItemRule installs a rule consulted for every item; nil removes it.
func (f *Fake) SetItemRule(r ItemRule) {
	f.mu.Lock()
	f.rule = r
	f.mu.Unlock()
}

// CloseIndex closes an index (creating it if needed): writes to it get
// index_closed_exception until OpenIndex.
func (f *Fake) CloseIndex(name string) {
	f.mu.Lock()
	f.st.closeIndex(name)
	f.mu.Unlock()
}

// OpenIndex reopens a closed index.
func (f *Fake) OpenIndex(name string) {
	f.mu.Lock()
	if ix := f.st.indices[name]; ix != nil {
		ix.closed = false
	}
	f.mu.Unlock()
}

// nextFault takes the next scripted fault (the zero Fault when none).
func (f *Fake) nextFault() Fault {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reqSeq++
	if len(f.script) == 0 {
		return Fault{}
	}
	ft := f.script[0]
	f.script = f.script[1:]
	return ft
}

// statusError is the whole-request body Elasticsearch sends with a status.
func statusError(status int, body int) *esError {
	switch status {
	case http.StatusTooManyRequests:
		return &esError{Status: status, Type: "es_rejected_execution_exception",
			Reason: fmt.Sprintf("rejected execution of coordinating operation [coordinating_and_primary_bytes=0, replica_bytes=0, all_bytes=0, coordinating_operation_bytes=%d, max_coordinating_and_primary_bytes=107374182]", body)}
	case http.StatusServiceUnavailable:
		return &esError{Status: status, Type: "cluster_block_exception", Reason: "blocked by: [SERVICE_UNAVAILABLE/2/no master];"}
	case http.StatusForbidden:
		return &esError{Status: status, Type: "security_exception", Reason: "action [indices:data/write/bulk] is unauthorized for user [esfake] with effective roles [] on indices [*]"}
	}
	return &esError{Status: status, Type: "exception", Reason: fmt.Sprintf("esfake: injected status %d", status)}
}
