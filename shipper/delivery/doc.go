// Package delivery is the engine every record output runs on: it reads an
// output's partitions from their checkpoints, hands each record to the
// output's Encoder to build requests (by bytes, records, linger and key),
// sends them through the output's Sender with bounded concurrency, acts on
// each answer (delivered, retry with backoff and Retry-After, partially
// delivered, too large, rejected to the dead letter) and commits offsets in
// order per partition as soon as requests are acknowledged. An output is its
// encoder and its table of answers; docs/outputs.md describes the engine.
package delivery
