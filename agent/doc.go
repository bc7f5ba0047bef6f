// Package agent wires inputs, the spool and outputs into one running agent:
// it opens the spool, starts outputs then inputs from a Registry of factories,
// supervises them, reloads a changed configuration in place, stops in the
// order that loses nothing, and serves /healthz, /readyz and /metrics.
package agent
