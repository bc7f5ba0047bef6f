// Package format turns the lines of a log file into records: raw lines, JSON
// lines, Docker json-file entries and CRI entries (with partial lines
// reassembled), optionally grouped into multiline events by a start pattern.
// Parsers never allocate per line and never panic on hostile bytes.
package format
