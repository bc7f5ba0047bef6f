// Package batch is capstan's unit of storage and transfer: a batch of log
// records that lies on disk in the spool and travels on the wire in the forward
// protocol as the very same bytes. It encodes batches into reusable buffers and
// decodes them with full validation. The byte layout is in docs/format.md.
package batch
