// Package stdout is the agent's built-in line output: it reads the spool from
// its checkpoint, prints each record as a raw line or an NDJSON object, and
// commits its checkpoint after writing. The shipper package's line outputs
// may replace it; until then it is what `capstan run` prints with.
package stdout
