package delivery

import (
	"context"

	"github.com/capstan-agent/capstan/component"

	"github.com/capstan-agent/capstan/spool"
)

// What an output gives the engine: an Encoder and a Sender (or a
// Streamer), and optionally a Keyer, an Opener and a Syncer. The engine
// calls them from several goroutines at once, each with its own Request.

// Encoder appends records to requests.
type Encoder interface {
	// Encode appends rec to req.Body (and to what the output keeps in
	// req.Data). An error rejects the record for good: it goes to the dead
	// letter with reason "encode" and the error's text, and is not in the
	// request. It must not keep rec or anything it points to.
	Encode(req *Request, rec *Record) error
}

// Keyer is implemented by encoders whose records go into separate requests
// by a key: a tenant URL or header, a Loki stream. The key may point into
// rec; the engine copies it when it opens a request.
type Keyer interface {
	Key(rec *Record) []byte
}

// Sender sends a request and says how it went. Send may be called
// concurrently (up to the output's concurrency), each call with its own
// request; ctx carries the request timeout and ends at shutdown.
type Sender interface {
	Send(ctx context.Context, req *Request) Result
}

// Streamer is implemented instead of Sender by outputs that write requests
// in order on one stream and learn later how far the destination took it
// (TCP: the peer's kernel acknowledges bytes). The engine writes up to
// concurrency requests ahead and waits for each in order; when the stream
// breaks, every request written and not acknowledged is written again, in
// order, on the next one.
type Streamer interface {
	// Write writes req after the requests written before it, opening the
	// stream if there is none. An error means the stream broke.
	Write(ctx context.Context, req *Request) error
	// Acked returns once req (written) is acknowledged, or with an error
	// when the stream broke; a broken stream is dropped, and the next Write
	// opens another.
	Acked(ctx context.Context, req *Request) error
}

// Opener is implemented by outputs that hold something from the start of
// Run to its end (a file, a connection, TLS keys loaded). Open is called
// before anything is read, with the host and the offset each partition
// resumes at; an output that keeps its own position with its data (the
// file output) may move them. An error fails the start. Close is called
// last.
type Opener interface {
	Open(ctx context.Context, host component.OutputHost, resume map[spool.Key]uint64) error
	Close() error
}

// Syncer is implemented by outputs that make what they delivered durable
// on the engine's sync interval and at shutdown (a file is fsynced).
type Syncer interface {
	Sync() error
}
