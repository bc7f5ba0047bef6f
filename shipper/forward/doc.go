// Package forward is the forward output: it ships spooled batches to other
// capstan agents over the forward protocol (docs/protocol.md), moving segment
// bytes from the page cache to the socket with sendfile(2) on plain TCP and
// through pooled buffers on TLS, with a window of unacknowledged bytes,
// failover and load balancing between endpoints, and reconnects forever.
package forward
