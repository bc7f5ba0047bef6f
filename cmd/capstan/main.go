// Command capstan is the log-shipping agent: see `capstan --help`.
package main

import (
	"fmt"
	"github.com/capstan-agent/capstan/component"
	"io"
	"os"
)

// Stamped at release by goreleaser (-ldflags -X).
var (
	version = "dev"
	commit  = "none"
	date    = "unknown"
)

// Exit codes, documented in usage and docs/configuration.md.
const (
	exitOK        = 0 // done, or stopped cleanly by SIGTERM/SIGINT
	exitFailure   = 1 // could not start, or failed while running
	exitUsage     = 2 // unknown command or flag
	exitBadConfig = 3 // the configuration cannot be read or is invalid
	exitInUse     = 4 // validate: valid, but data_dir is in use by a running capstan
	// 128+N: a second signal N cut the shutdown short (the spool recovers at
	// the next start; outputs resend what they had not committed).
)

const usage = `capstan ships logs: it tails files and listens on sockets, keeps every
record in an on-disk spool, and forwards the spool to peers exactly once.

Usage:
  capstan run [-c FILE] [flags]   run the agent (without -c: the embedded default,
                                  which tails /var/log/**/*.log, listens on
                                  tcp 127.0.0.1:5170 and prints to stdout)
  capstan validate [-c FILE]      check a configuration and list every problem
  capstan spool verify DIR        check every batch of a spool
  capstan spool inspect DIR       show streams, partitions, segments and checkpoints
  capstan spool dump DIR STREAM   print a stream's records (STREAM/N: one partition) as NDJSON
  capstan spool lag DIR           how far each consumer is behind
  capstan process [-c FILE] [FILE]  run an input's processors over sample lines
  capstan test [-c FILE] TESTFILE   check processor unit tests
  capstan bench [-hops 1|2]       measure file → agents → tcp receiver on this machine
  capstan version                 print the version and the input/output types built in
  capstan COMMAND --help          flags of a command

Configuration: a YAML file, then CAPSTAN_* environment variables
(CAPSTAN_SPOOL__FSYNC=always sets spool.fsync), then flags. Reference:
docs/configuration.md.

Exit codes: 0 ok or clean stop, 1 failure, 2 usage error, 3 configuration
unreadable or invalid, 4 (validate) valid but data_dir in use by a running
capstan, 128+N stopped at once by a second signal N.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) (code int) {
	defer func() {
		// One clear line, never a stack trace.
		if r := recover(); r != nil {
			fmt.Fprintf(stderr, "capstan: internal error: %v (please report this)\n", r)
			code = exitFailure
		}
	}()
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	switch args[0] {
	case "run":
		return runAgent(args[1:], stdout, stderr, nil)
	case "validate":
		return runValidate(args[1:], stdout, stderr)
	case "version", "--version":
		if len(args) > 1 {
			if args[1] == "--help" || args[1] == "-h" {
				fmt.Fprint(stdout, "Usage: capstan version\n\nPrints the version, commit and build date, and the input and output types\nbuilt in.\n")
				return exitOK
			}
			fmt.Fprintf(stderr, "capstan version: unexpected argument %q (see capstan version --help)\n", args[1])
			return exitUsage
		}
		fmt.Fprintf(stdout, "capstan %s (commit %s, built %s)\n", version, commit, date)
		reg := registry(io.Discard)
		ins, outs := reg.Types(component.KindInput), reg.Types(component.KindOutput)
		fmt.Fprintf(stdout, "inputs: %s\noutputs: %s\n", list(ins), list(outs))
		return exitOK
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return exitOK
	case "spool":
		return runSpool(args[1:], stdout, stderr)
	case "process":
		return runProcess(args[1:], stdout, stderr)
	case "test":
		return runTest(args[1:], stdout, stderr)
	case "bench":
		return runBench(args[1:], stdout, stderr)
	default:
		fmt.Fprintf(stderr, "capstan: unknown command %q (see capstan --help)\n", args[0])
		return exitUsage
	}
}

func list(s []string) string {
	if len(s) == 0 {
		return "(none)"
	}
	out := s[0]
	for _, e := range s[1:] {
		out += ", " + e
	}
	return out
}
