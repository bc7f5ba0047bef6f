// Package batch is capstan's unit of storage and transfer: a batch of log
// records that lies on disk in the spool and travels on the wire in the forward
// protocol as the very same bytes. It encodes batches into reusable buffers,
// decodes them (every version) with full validation, and gives output
// encoders one view of a record: times, body and typed attributes, with a
// JSON value writer. The byte layout is in docs/format.md.
package batch
