package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/capstan-agent/capstan/agent/config"
	"github.com/capstan-agent/capstan/inputs/process"
	"github.com/capstan-agent/capstan/spool/batch"
)

const processHelp = `Usage: capstan process [-c FILE] [--input NAME] [--source KEY=VALUE]... [FILE...]

Runs an input's processors over sample lines — the FILEs, or standard input —
and prints, one JSON object per line, what would be appended to the spool:
its time, stream, body and fields, or why it was dropped. Nothing is read from
or written to the spool. Use it to try a parser before rolling it out.

--input names the input whose processors run; without it, the only input that
has processors. --source sets a source attribute every line gets (what the
input would set: k8s.namespace.name=prod, log.file.path=/var/log/x.log).

Exit codes: 0 done, 2 usage error, 3 invalid configuration.

Flags:
` + configFlagsHelp + `      --input NAME       the input whose processors run
      --source KEY=VALUE a source attribute of every line (repeatable)
`

const testHelp = `Usage: capstan test [-c FILE] TESTFILE...

Checks processor unit tests: each test names an input of the configuration
(or gives a processors list of its own), lines, and what each line must
become. Every difference is printed; docs/processors.md gives the format.

Exit codes: 0 every test passed, 1 a test failed, 2 usage error, 3 invalid
configuration or test file.

Flags:
` + configFlagsHelp

// loadForProcess loads the configuration as run would, without the data
// dir check.
func loadForProcess(cf configFlags, stderr io.Writer) (*config.Loaded, int) {
	l, err := config.Load(config.Options{Path: cf.path, Overrides: cf.overrides, Registry: registry(io.Discard)})
	if err != nil {
		printConfigErrors(stderr, sourceName(cf.path), err)
		return nil, exitBadConfig
	}
	return l, -1
}

func runProcess(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("process", flag.ContinueOnError)
	var cf configFlags
	cf.register(fs)
	input := fs.String("input", "", "")
	var source []string
	fs.Func("source", "", func(kv string) error {
		if !strings.Contains(kv, "=") {
			return fmt.Errorf("want KEY=VALUE, e.g. --source k8s.namespace.name=prod")
		}
		source = append(source, kv)
		return nil
	})
	if code := parseArgs(fs, args, processHelp, stdout, stderr); code >= 0 {
		return code
	}
	l, code := loadForProcess(cf, stderr)
	if l == nil {
		return code
	}
	name := *input
	if name == "" {
		var with []string
		for n, in := range l.Inputs {
			if len(in.Processors) > 0 {
				with = append(with, n)
			}
		}
		sort.Strings(with)
		if len(with) != 1 {
			fmt.Fprintf(stderr, "capstan process: inputs with processors: %s; name one with --input\n", list(with))
			return exitUsage
		}
		name = with[0]
	}
	in, ok := l.Inputs[name]
	if !ok {
		fmt.Fprintf(stderr, "capstan process: no input %q in %s\n", name, sourceName(cf.path))
		return exitUsage
	}
	chain, err := l.Chain(in, config.InputFields(in))
	if err != nil || chain == nil {
		fmt.Fprintf(stderr, "capstan process: input %s has no processors\n", name)
		return exitUsage
	}
	opts := process.LinesOptions{Stream: in.Stream}
	for _, kv := range source {
		k, v, _ := strings.Cut(kv, "=")
		opts.Source = append(opts.Source, batch.StringAttr(k, v))
	}
	readers := []io.Reader{os.Stdin}
	if fs.NArg() > 0 {
		readers = nil
		for _, path := range fs.Args() {
			f, err := os.Open(path)
			if err != nil {
				fmt.Fprintf(stderr, "capstan process: %v\n", err)
				return exitUsage
			}
			defer f.Close()
			readers = append(readers, f)
		}
	}
	sum, err := process.RunLines(context.Background(), chain, io.MultiReader(readers...), stdout, opts)
	if err != nil {
		fmt.Fprintf(stderr, "capstan process: %v\n", err)
		return exitFailure
	}
	fmt.Fprintf(stderr, "capstan process: %d lines, %d kept, %d dropped, %d cut at the line limit\n",
		sum.Lines, sum.Kept, sum.Lines-sum.Kept, sum.Truncated)
	return exitOK
}

func runTest(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	var cf configFlags
	cf.register(fs)
	if code := parseArgs(fs, args, testHelp, stdout, stderr); code >= 0 {
		return code
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(stderr, "capstan test: give at least one test file (see capstan test --help)")
		return exitUsage
	}
	l, code := loadForProcess(cf, stderr)
	if l == nil {
		return code
	}
	resolve := func(name string) (*process.Chain, error) {
		in, ok := l.Inputs[name]
		if !ok {
			return nil, fmt.Errorf("no input %q in %s", name, sourceName(cf.path))
		}
		c, err := l.Chain(in, config.InputFields(in))
		if err == nil && c == nil {
			err = fmt.Errorf("input %s has no processors", name)
		}
		return c, err
	}
	passed, failed := 0, 0
	for _, path := range fs.Args() {
		f, err := os.Open(path)
		if err != nil {
			fmt.Fprintf(stderr, "capstan test: %v\n", err)
			return exitBadConfig
		}
		tf, err := process.LoadTests(f)
		f.Close()
		if err != nil {
			fmt.Fprintf(stderr, "capstan test: %s: %v\n", path, err)
			return exitBadConfig
		}
		rep := process.RunTests(tf, resolve)
		for _, fail := range rep.Failures {
			fmt.Fprintf(stdout, "%s: %s\n", path, fail)
		}
		passed += rep.Passed
		failed += len(rep.Failures)
	}
	fmt.Fprintf(stdout, "%d passed, %d failed\n", passed, failed)
	if failed > 0 {
		return exitFailure
	}
	return exitOK
}
