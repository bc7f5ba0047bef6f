package socket

import (
	"sync/atomic"
	"time"
)

// Stats are the input's counters, for metrics. Read them with Load.
type Stats struct {
	Connections         atomic.Int64  // stream connections open now
	ConnectionsAccepted atomic.Uint64 // stream connections served
	ConnectionsRejected atomic.Uint64 // closed at once: over max_connections
	IdleTimeouts        atomic.Uint64 // closed after idle_timeout
	TLSHandshakeErrors  atomic.Uint64 // handshakes that failed or timed out
	ReadErrors          atomic.Uint64 // connections ended by an error other than EOF
	Messages            atomic.Uint64 // records handed to batches
	Bytes               atomic.Uint64 // message bytes received
	Truncated           atomic.Uint64 // messages cut at max_message_bytes
	ParseErrors         atomic.Uint64 // messages kept raw: syslog parsing failed
	DatagramsDropped    atomic.Uint64 // datagrams dropped while the spool was behind
	Batches             atomic.Uint64 // batches appended
	AppendErrors        atomic.Uint64 // appends that failed (shutdown with a full spool)
	LostRecords         atomic.Uint64 // records of failed appends
}

// every lets a log line through at most once a second, so that a flood of
// rejected connections or bad frames makes counters, not log spam.
type every struct{ last atomic.Int64 }

func (e *every) allow() bool {
	now := time.Now().UnixNano()
	last := e.last.Load()
	return now-last >= int64(time.Second) && e.last.CompareAndSwap(last, now)
}
