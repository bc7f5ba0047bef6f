// Package componenttest runs inputs and outputs in tests the way the agent
// does: with a host backed by a real spool, recording the states they
// report; and decodes their log lines as strict JSON consumers do.
package componenttest
