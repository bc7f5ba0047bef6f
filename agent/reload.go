package agent

import (
	"errors"
	"fmt"
	"reflect"
	"slices"

	"github.com/capstan-agent/capstan/agent/config"
	"go.uber.org/zap"
)

// Reload applies a new configuration to the running agent: inputs and
// outputs that were added are started, removed ones stopped, changed ones
// restarted (an output resumes from its checkpoint, an input from its
// positions, so nothing is lost or sent twice); unchanged ones keep running
// untouched. Every new component is built before anything is stopped: if one
// cannot be built, Reload changes nothing and returns the error. Settings
// that only take effect at start (data_dir, spool, log.format, options of
// streams already open) are reported in the log.
func (a *Agent) Reload(cfg *config.Config) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.spool == nil || a.stopped {
		return errors.New("agent is not running")
	}
	old := a.cfg
	a.warnRestartOnly(old, cfg)
	if err := a.openStreams(cfg); err != nil {
		return err
	}

	type pending struct {
		u     *unit
		c     Component
		build func() (Component, error)
	}
	var newIns, newOuts []pending
	var stopIns, stopOuts []*unit
	for _, name := range sortedNames(cfg.Outputs) {
		out := cfg.Outputs[name]
		if cur, ok := a.outputs[name]; ok && reflect.DeepEqual(cur.cfg, out) &&
			slices.Equal(streamNames(cur.streams), streamNames(a.outputStreams(out))) {
			continue
		}
		u, c, build, err := a.newOutput(name, out)
		if err != nil {
			return fmt.Errorf("reload refused, nothing changed: %w", err)
		}
		newOuts = append(newOuts, pending{u, c, build})
		if cur, ok := a.outputs[name]; ok {
			stopOuts = append(stopOuts, cur)
		}
	}
	for _, name := range sortedNames(cfg.Inputs) {
		in := cfg.Inputs[name]
		if cur, ok := a.inputs[name]; ok && reflect.DeepEqual(cur.cfg, in) {
			continue
		}
		u, c, build, err := a.newInput(name, in)
		if err != nil {
			return fmt.Errorf("reload refused, nothing changed: %w", err)
		}
		newIns = append(newIns, pending{u, c, build})
		if cur, ok := a.inputs[name]; ok {
			stopIns = append(stopIns, cur)
		}
	}
	var removedOuts []string
	for _, name := range sortedNames(a.outputs) {
		if _, ok := cfg.Outputs[name]; !ok {
			stopOuts = append(stopOuts, a.outputs[name])
			removedOuts = append(removedOuts, name)
		}
	}
	for _, name := range sortedNames(a.inputs) {
		if _, ok := cfg.Inputs[name]; !ok {
			stopIns = append(stopIns, a.inputs[name])
		}
	}

	// Inputs first, as at shutdown; then outputs, which resume from their
	// checkpoints in their new form.
	for _, u := range stopIns {
		u.stop()
		delete(a.inputs, u.name)
		a.log.Info("input stopped for reload", zap.String("input", u.name))
	}
	for _, u := range stopOuts {
		u.stop()
		delete(a.outputs, u.name)
		a.log.Info("output stopped for reload", zap.String("output", u.name))
	}
	for _, name := range removedOuts {
		// A removed output must not hold retention back; its checkpoint
		// file stays for the day it comes back.
		a.spool.Checkpoints().Unregister(name)
	}
	for _, p := range newOuts {
		a.run(p.u, p.c, p.build)
		a.outputs[p.u.name] = p.u
	}
	for _, p := range newIns {
		a.run(p.u, p.c, p.build)
		a.inputs[p.u.name] = p.u
	}

	if a.level != nil && old.Log.Level != cfg.Log.Level {
		if err := a.level.UnmarshalText([]byte(cfg.Log.Level)); err == nil {
			a.log.Info("log level changed", zap.String("level", cfg.Log.Level))
		}
	}
	if old.HTTP != cfg.HTTP {
		a.restartHTTP(cfg.HTTP)
	}
	a.cfg = cfg
	a.publish()
	a.log.Info("configuration reloaded",
		zap.Int("inputs_started", len(newIns)), zap.Int("outputs_started", len(newOuts)),
		zap.Int("inputs_stopped", len(stopIns)), zap.Int("outputs_stopped", len(stopOuts)))
	return nil
}

// restartHTTP binds the new address before letting go of the old one, so
// that a bad new address leaves the old server running.
func (a *Agent) restartHTTP(h config.HTTP) {
	if h.Address == "" {
		a.http.close()
		a.http = nil
		return
	}
	srv, err := startHTTP(h, a, a.log.Named("http"))
	if err != nil {
		a.log.Error("http server not moved; the old one keeps serving", zap.Error(err))
		return
	}
	a.http.close()
	a.http = srv
}

func (a *Agent) warnRestartOnly(old, cfg *config.Config) {
	warn := func(key string) {
		a.log.Warn("this setting takes effect at the next restart", zap.String("key", key))
	}
	if old.DataDir != cfg.DataDir {
		warn("data_dir")
	}
	if old.Spool != cfg.Spool {
		warn("spool")
	}
	if old.Log.Format != cfg.Log.Format {
		warn("log.format")
	}
	for name, st := range cfg.Streams {
		if prev, ok := old.Streams[name]; ok && prev != st {
			warn("streams." + name)
		}
	}
}
