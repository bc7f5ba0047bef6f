// Package protocol encodes and decodes the frames of capstan's forward
// protocol: the hellos that open a connection, then DATA, ACK, ERROR and
// HEARTBEAT frames. A DATA payload is whole batches exactly as they lie in a
// spool segment. The byte layout is in docs/protocol.md; decoders never panic
// and never allocate more than the bytes that actually arrived.
package protocol
