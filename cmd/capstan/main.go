// Command capstan is the log-shipping agent: see `capstan --help`.
package main

import (
	"fmt"
	"io"
	"os"
)

// Stamped at release by goreleaser (-ldflags -X).
var (
	version = "dev"
	commit  = "none"
	date    = "unknown"
)

const usage = `capstan ships logs: it tails files and listens on sockets, keeps every
record in an on-disk spool, and forwards the spool to peers exactly once.

Usage:
  capstan run [-c FILE]          run the agent
  capstan spool verify DIR       check every batch of a spool
  capstan spool inspect DIR      show streams, partitions, segments and checkpoints
  capstan version                print the version
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "version":
		fmt.Fprintf(stdout, "capstan %s (commit %s, built %s)\n", version, commit, date)
		return 0
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	case "spool":
		return runSpool(args[1:], stdout, stderr)
	default:
		fmt.Fprintf(stderr, "capstan: unknown command %q (see capstan --help)\n", args[0])
		return 2
	}
}
