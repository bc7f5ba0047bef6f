// Package process is capstan's processor chain: the steps an input runs on
// each record before it is appended to the spool (parse, reshape, filter,
// route, redact, throttle, sample), configured as a list, compiled once, and
// run without allocating per record. See docs/processors.md.
package process
