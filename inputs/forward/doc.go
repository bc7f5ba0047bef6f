// Package forward is the receiving end of capstan's forward protocol
// (docs/protocol.md): it accepts batches from other agents, checks every one,
// gives identity-less batches a producer so re-sends are dropped, and appends
// them to its spool before acknowledging. A core is an agent with this input.
package forward
