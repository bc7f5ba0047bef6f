// Package lines holds the outputs that write records as text lines — tcp
// (with TLS and octet counting), file (rotated by size, exactly once across
// kill -9) and stdout — in raw or NDJSON form, on the delivery engine
// (docs/outputs.md). Each is an encoder and a sender: no allocation per
// record.
package lines
