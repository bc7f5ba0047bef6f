package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/capstan-agent/capstan/agent"
	"github.com/capstan-agent/capstan/agent/config"
	"github.com/capstan-agent/capstan/component"
	"go.uber.org/zap"
)

const runHelp = `Usage: capstan run [-c FILE] [flags]

Runs the agent: opens the spool in data_dir, starts the outputs, then the
inputs, and serves /healthz, /readyz and /metrics on http.address.

Without -c (and without $CAPSTAN_CONFIG) it runs the embedded default: tail
/var/log/**/*.log from their end, listen for lines on tcp 127.0.0.1:5170,
keep them in a spool under $XDG_STATE_HOME/capstan (or ./capstan-data), and
print them on standard output. Logs go to standard error.

Signals:
  SIGTERM, SIGINT  stop: inputs first, then outputs get shutdown_grace to
                   deliver what is spooled; exit 0. A second signal exits at
                   once (nothing is corrupted; the rest ships after a restart).
  SIGHUP           reload the configuration: changed inputs and outputs are
                   restarted, the others keep running; an invalid
                   configuration is refused and the running one stays.
                   With --watch-config, saving the file does the same.

Exit codes: 0 clean stop, 1 failure, 2 usage error, 3 invalid configuration,
128+N stopped at once by a second signal N.

Flags:
` + configFlagsHelp + `      --watch-config     also reload when the -c file changes (as SIGHUP does)
`

func runAgent(args []string, stdout, stderr io.Writer, sigs chan os.Signal) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	var cf configFlags
	cf.register(fs)
	watch := fs.Bool("watch-config", false, "")
	if code := parse(fs, args, runHelp, stdout, stderr); code >= 0 {
		return code
	}
	if *watch && cf.path == "" {
		fmt.Fprintln(stderr, "capstan run: --watch-config needs -c FILE (see capstan run --help)")
		return exitUsage
	}
	reg := registry(stdout)
	load := func() (*config.Loaded, error) {
		return config.Load(config.Options{Path: cf.path, Overrides: cf.overrides, Registry: reg})
	}
	loaded, err := load()
	if err != nil {
		printConfigErrors(stderr, sourceName(cf.path), err)
		return exitBadConfig
	}
	cfg := loaded.Config
	log, level, err := agent.NewLogger(cfg.Log.Format, cfg.Log.Level, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "capstan: %v\n", err)
		return exitBadConfig
	}
	defer log.Sync()

	for _, w := range loaded.Warnings {
		log.Warn(w)
	}
	if cf.path == "" {
		fmt.Fprintf(stderr, "capstan: no -c given: running the embedded default configuration (capstan run --help says more):\n")
		for _, line := range summary(cfg) {
			fmt.Fprintf(stderr, "  %s\n", line)
		}
	}
	log.Info("capstan starting", zap.String("version", version), zap.String("config", sourceName(cf.path)))

	if sigs == nil {
		sigs = make(chan os.Signal, 2)
		signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
		defer signal.Stop(sigs)
	}
	// Watch before starting, so that no change after "agent started" is missed.
	reloads := make(chan struct{}, 1)
	if *watch {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		if err := watchConfig(ctx, cf.path, reloads, log); err != nil {
			log.Error("cannot watch the configuration file; SIGHUP still reloads", zap.Error(err))
		}
	}
	a := agent.New(cfg, agent.Options{Registry: reg, Logger: log, Level: &level})
	if err := a.Start(); err != nil {
		log.Error("could not start", zap.Error(err))
		fmt.Fprintf(stderr, "capstan: could not start: %s\n", strings.ReplaceAll(err.Error(), "\n", "; "))
		return exitFailure
	}

	for {
		var sig os.Signal
		select {
		case <-reloads:
			log.Info("configuration file changed")
			reload(a, load, log)
			continue
		case sig = <-sigs:
		}
		if sig == syscall.SIGHUP {
			log.Info("SIGHUP received")
			reload(a, load, log)
			continue
		}
		log.Info("signal received: stopping (a second signal exits at once)", zap.Stringer("signal", sig))
		done := make(chan error, 1)
		go func() { done <- a.Stop(context.Background()) }()
		for {
			select {
			case err := <-done:
				if err != nil {
					log.Error("stopped with errors", zap.Error(err))
					return exitFailure
				}
				return exitOK
			case s := <-sigs:
				if s == syscall.SIGHUP {
					continue
				}
				log.Warn("second signal: exiting now; the spool recovers at the next start", zap.Stringer("signal", s))
				return 128 + int(s.(syscall.Signal))
			}
		}
	}
}

// reload reads the configuration again and applies it; any problem leaves
// the running configuration in place.
func reload(a *agent.Agent, load func() (*config.Loaded, error), log *zap.Logger) {
	log.Info("reloading the configuration")
	loaded, err := load()
	if err != nil {
		var problems []string
		if errs, ok := err.(config.Errors); ok {
			for _, e := range errs {
				problems = append(problems, e.Error())
			}
		} else {
			problems = []string{err.Error()}
		}
		log.Error("reload refused: the new configuration is invalid; the running one stays", zap.Strings("problems", problems))
		return
	}
	for _, w := range loaded.Warnings {
		log.Warn(w)
	}
	if err := a.Reload(loaded.Config); err != nil {
		log.Error("reload: "+strings.ReplaceAll(err.Error(), "\n", "; "), zap.Error(err))
	}
}

// summary says in a few lines what a configuration makes the agent do.
func summary(cfg *config.Config) []string {
	dir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		dir = cfg.DataDir
	}
	lines := []string{"spool in " + dir}
	for _, name := range sortedKeys(cfg.Inputs) {
		in := cfg.Inputs[name]
		lines = append(lines, fmt.Sprintf("input %s: %s %s → stream %s", name, in.Type, inputWhat(in), in.Stream))
	}
	for _, name := range sortedKeys(cfg.Outputs) {
		out := cfg.Outputs[name]
		streams := "all streams"
		if len(out.Streams) > 0 {
			streams = "streams " + strings.Join(out.Streams, ", ")
		}
		lines = append(lines, fmt.Sprintf("output %s: %s ← %s", name, out.Type, streams))
	}
	if cfg.HTTP.Address != "" {
		lines = append(lines, "health and metrics on http://"+cfg.HTTP.Address+"/metrics")
	}
	return lines
}

// inputWhat says what an input reads: its globs or its addresses.
func inputWhat(in *config.Input) string {
	if f, ok := in.Settings.(component.Files); ok {
		if r, _ := f.Files(); len(r) > 0 {
			return strings.Join(r, " ")
		}
	}
	if l, ok := in.Settings.(component.Listeners); ok {
		var addrs []string
		for _, x := range l.Listeners() {
			addrs = append(addrs, x.Address)
		}
		return strings.Join(addrs, " ")
	}
	return ""
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }
