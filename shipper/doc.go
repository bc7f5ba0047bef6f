// Package shipper replays the spool to outputs: one Cursor per partition of
// each stream an output reads, starting at the output's committed checkpoint,
// and a Group that commits only acknowledged offsets, batched, through the
// spool's checkpoint store. Outputs live in subpackages (forward, lines); the
// forward protocol is in spool/protocol and docs/protocol.md.
package shipper
