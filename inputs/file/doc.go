// Package file is the file input: it finds files by include/exclude globs,
// follows them through rotation, truncation and restarts, splits and decodes
// their lines (package format) and appends them to the spool as batches that
// carry a producer identity and the file offset they reach, so that after a
// crash the spool's tail says where each file was read to. See
// docs/inputs-file.md.
package file
