// Package lines holds the outputs that re-encode records as text lines —
// tcp, file (rotated by size) and stdout — in raw or NDJSON form. They
// decode batches in place and append lines to a reused buffer: no allocation
// per record.
package lines
