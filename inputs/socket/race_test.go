//go:build race

package socket

// idleConnBudget is what an idle connection may cost in heap and stack.
// Under the race detector a goroutine's stack and the detector's own
// bookkeeping make it 9–19 KiB (measured), still far from the 64 KiB of a
// read buffer held per connection.
const idleConnBudget = 32 << 10
