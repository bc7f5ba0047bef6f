package main

import (
	"flag"
	"fmt"
	"io"

	"github.com/capstan-agent/capstan/agent/config"
)

const validateHelp = `Usage: capstan validate [-c FILE] [flags]

Checks a configuration as capstan run would read it (file, CAPSTAN_*
environment, flags) and prints every problem at once, each with its key path.
It also checks that data_dir could be taken: while an agent runs on it, the
configuration is reported valid with the data dir in use (exit 4); pass
--no-lock-check to skip that check.

Exit codes: 0 valid, 2 usage error, 3 invalid, 4 valid but data_dir is in use
by a running capstan.

Flags:
` + configFlagsHelp + `      --no-lock-check    do not check that data_dir can be locked
`

func runValidate(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	var cf configFlags
	cf.register(fs)
	noLock := fs.Bool("no-lock-check", false, "")
	if code := parse(fs, args, validateHelp, stdout, stderr); code >= 0 {
		return code
	}
	cfg, err := config.Load(config.Options{Path: cf.path, Overrides: cf.overrides, Registry: registry(io.Discard), CheckDataDir: !*noLock})
	if err != nil {
		if !config.IsInvalid(err) {
			fmt.Fprintf(stderr, "capstan: %v\n", err)
			return exitBadConfig
		}
		printConfigErrors(stderr, sourceName(cf.path), err)
		return exitBadConfig
	}
	code := exitOK
	state := "valid"
	if cfg.InUse != nil {
		state = fmt.Sprintf("valid; the data dir %s is in use by a running capstan (pid %s) — pass --no-lock-check to check a running agent's configuration", cfg.DataDir, cfg.InUse.PID)
		code = exitInUse
	}
	fmt.Fprintf(stdout, "%s: %s (%s, %s, data_dir %s)\n", sourceName(cf.path), state,
		count(len(cfg.Inputs), "input"), count(len(cfg.Outputs), "output"), cfg.DataDir)
	for _, w := range cfg.Warnings {
		fmt.Fprintf(stdout, "warning: %s\n", w)
	}
	return code
}

func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
