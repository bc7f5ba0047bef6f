// Package spool is capstan's embedded log: streams of partitions of segments,
// appended with one write(2) per batch through the page cache, read back as
// zero-copy (file, position, length) ranges of whole batches, recovered from
// the tail after a crash. See docs/architecture.md and docs/format.md.
package spool
