//go:build !race

package socket

// idleConnBudget is what an idle connection may cost in heap and stack
// (~7 KiB measured: its goroutine's stack and the connection's state).
const idleConnBudget = 16 << 10
