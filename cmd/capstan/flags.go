package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/capstan-agent/capstan/agent/config"
)

// configFlags are the flags that say where the configuration comes from and
// override its keys; run and validate share them.
type configFlags struct {
	path      string
	overrides []config.Override
}

func (c *configFlags) register(fs *flag.FlagSet) {
	def := os.Getenv("CAPSTAN_CONFIG")
	fs.StringVar(&c.path, "c", def, "")
	fs.StringVar(&c.path, "config", def, "")
	set := func(name, key string) {
		fs.Func(name, "", func(v string) error {
			c.overrides = append(c.overrides, config.Override{Key: key, Value: v, Origin: "--" + name})
			return nil
		})
	}
	set("data-dir", "data_dir")
	set("log-level", "log.level")
	set("log-format", "log.format")
	set("http-address", "http.address")
	fs.BoolFunc("pprof", "", func(v string) error {
		c.overrides = append(c.overrides, config.Override{Key: "http.pprof", Value: v, Origin: "--pprof"})
		return nil
	})
	fs.Func("set", "", func(kv string) error {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return fmt.Errorf("want key=value, e.g. --set spool.fsync=always")
		}
		c.overrides = append(c.overrides, config.Override{Key: k, Value: v, Origin: "--set " + k})
		return nil
	})
}

const configFlagsHelp = `  -c, --config FILE      YAML configuration (default: $CAPSTAN_CONFIG, else the
                         embedded default)
      --data-dir DIR     sets data_dir
      --log-level LEVEL  sets log.level: debug, info, warn, error
      --log-format FMT   sets log.format: json, console
      --http-address A   sets http.address (host:port; "" for no HTTP server)
      --pprof            sets http.pprof: serve /debug/pprof/
      --set KEY=VALUE    sets any key, e.g. --set spool.fsync=always (repeatable)
`

// parse parses args; it returns -1 to go on, or an exit code.
func parse(fs *flag.FlagSet, args []string, help string, stdout, stderr io.Writer) int {
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprint(stdout, help)
		return exitOK
	case err != nil:
		fmt.Fprintf(stderr, "capstan %s: %v (see capstan %s --help)\n", fs.Name(), err, fs.Name())
		return exitUsage
	case fs.NArg() > 0:
		fmt.Fprintf(stderr, "capstan %s: unexpected argument %q (see capstan %s --help)\n", fs.Name(), fs.Arg(0), fs.Name())
		return exitUsage
	}
	return -1
}

// printConfigErrors prints every problem, one per line, under one header.
func printConfigErrors(w io.Writer, source string, err error) {
	var errs config.Errors
	if !errors.As(err, &errs) {
		fmt.Fprintf(w, "capstan: %v\n", err)
		return
	}
	noun := "problems"
	if len(errs) == 1 {
		noun = "problem"
	}
	fmt.Fprintf(w, "capstan: invalid configuration in %s (%d %s):\n", source, len(errs), noun)
	for _, e := range errs {
		fmt.Fprintf(w, "  %s\n", e.Error())
	}
}

func sourceName(path string) string {
	if path == "" {
		return "the embedded default"
	}
	return path
}

// parseArgs is parse for commands that take arguments: flags may come
// before or after them; fs.Args() are the arguments afterwards.
func parseArgs(fs *flag.FlagSet, args []string, help string, stdout, stderr io.Writer) int {
	fs.SetOutput(io.Discard)
	pos, err := parseInterspersed(fs, args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprint(stdout, help)
		return exitOK
	case err != nil:
		fmt.Fprintf(stderr, "capstan %s: %v (see capstan %s --help)\n", fs.Name(), err, fs.Name())
		return exitUsage
	}
	fs.Parse(append([]string{"--"}, pos...)) // leave the arguments in fs.Args()
	return -1
}
