// Package httpout is the http output: records POSTed (or PUT) to a URL as
// NDJSON, a JSON array or raw lines, the URL and headers optionally taken
// from a record's fields (requests split by their values), with the
// answers classed as HTTP services mean them. docs/output-http.md
// describes it.
package httpout
