package agent

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"

	"go.uber.org/zap"

	"github.com/capstan-agent/capstan/agent/config"
	"github.com/capstan-agent/capstan/component"
)

// Reload applies a new configuration (as config.Load returns it) to the
// running agent. Unchanged inputs and outputs keep running untouched. For
// the rest, in this order:
//
//  1. every new or changed component is built (constructors have no side
//     effects) and every address the new configuration binds that the
//     running one does not is proven bindable; if anything fails, Reload
//     changes nothing and returns the error;
//  2. changed and removed inputs stop (each flushes into the spool and
//     writes its positions), then changed and removed outputs stop (each
//     commits what was acknowledged);
//  3. the new outputs start, then the new inputs. An output's new instance
//     registers and reads its checkpoints only now, after the old instance
//     committed, so no offset is lost or sent twice; an input resumes from
//     its positions.
//
// An output or input that is renamed (one removed and one added with the same
// type and settings) takes its checkpoints or positions along. Settings that
// only take effect at start (data_dir, spool, log.format, options of streams
// already open) are reported in the log.
func (a *Agent) Reload(cfg *config.Config) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.spool == nil || a.stopped {
		return errors.New("agent is not running")
	}
	old := a.cfg
	if err := proveBindable(newListeners(old, cfg)); err != nil {
		return fmt.Errorf("reload refused, nothing changed: %w", err)
	}
	if err := a.openStreams(cfg); err != nil {
		return fmt.Errorf("reload refused, nothing changed: %w", err)
	}
	a.warnRestartOnly(old, cfg)

	var newIns, newOuts []pending
	var stopIns, stopOuts []*unit
	for _, name := range sortedNames(cfg.Outputs) {
		out := cfg.Outputs[name]
		if cur, ok := a.outputs[name]; ok && reflect.DeepEqual(cur.cfg, out) &&
			slices.Equal(streamNames(cur.streams), streamNames(a.outputStreams(out))) {
			continue
		}
		p, err := a.newOutput(cfg, name)
		if err != nil {
			return fmt.Errorf("reload refused, nothing changed: %w", err)
		}
		newOuts = append(newOuts, p)
		if cur, ok := a.outputs[name]; ok {
			stopOuts = append(stopOuts, cur)
		}
	}
	for _, name := range sortedNames(cfg.Inputs) {
		in := cfg.Inputs[name]
		if cur, ok := a.inputs[name]; ok && reflect.DeepEqual(cur.cfg, in) && reflect.DeepEqual(old.SourceAttributes(cur.cfg.(*config.Input)), cfg.SourceAttributes(in)) {
			continue
		}
		p, err := a.newInput(cfg, name)
		if err != nil {
			return fmt.Errorf("reload refused, nothing changed: %w", err)
		}
		newIns = append(newIns, p)
		if cur, ok := a.inputs[name]; ok {
			stopIns = append(stopIns, cur)
		}
	}
	var removedOuts, removedIns []*unit
	for _, name := range sortedNames(a.outputs) {
		if _, ok := cfg.Outputs[name]; !ok {
			stopOuts = append(stopOuts, a.outputs[name])
			removedOuts = append(removedOuts, a.outputs[name])
		}
	}
	for _, name := range sortedNames(a.inputs) {
		if _, ok := cfg.Inputs[name]; !ok {
			stopIns = append(stopIns, a.inputs[name])
			removedIns = append(removedIns, a.inputs[name])
		}
	}

	// Inputs first, as at shutdown; then outputs, which commit. An input
	// whose new instance is of its type and can take its sockets over
	// leaves them open (component.HandOver): its senders see nothing.
	heirs := map[string]*unit{}
	for _, p := range newIns {
		heirs[p.u.id.Name] = p.u
	}
	for _, u := range stopIns {
		heir := heirs[u.id.Name]
		ho, canHand := u.component().(component.HandOver)
		handing := canHand && heir != nil && heir.id.Type == u.id.Type
		if handing {
			ho.Keep()
		}
		u.stop(context.Background())
		delete(a.inputs, u.id.Name)
		if left := ho; handing && left != nil {
			if inh := left.Left(); inh != nil {
				heir.inherit = inh
				u.log.Info("input stopped for reload; its sockets go to the new instance")
				continue
			}
		}
		u.log.Info("input stopped for reload")
	}
	for _, u := range stopOuts {
		u.stop(context.Background())
		delete(a.outputs, u.id.Name)
		u.log.Info("output stopped for reload")
	}
	a.carryRenames(removedOuts, newOuts, removedIns, newIns, cfg)
	for _, u := range removedOuts {
		// A removed output must not hold retention back; its checkpoint
		// file stays for the day it comes back.
		a.spool.Checkpoints().Unregister(u.id.Name)
	}
	var errs []error
	if err := a.startAll(newOuts, a.outputs); err != nil {
		errs = append(errs, err)
	}
	if err := a.startAll(newIns, a.inputs); err != nil {
		errs = append(errs, err)
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
	if len(errs) > 0 {
		// Bound a moment ago and taken since by someone else: the component
		// retries with backoff; say so loudly.
		err := errors.Join(errs...)
		a.log.Error("configuration reloaded, but components failed to start; they are retried", zap.Error(err))
		return fmt.Errorf("reloaded, but: %w", err)
	}
	a.log.Info("configuration reloaded",
		zap.Int("inputs_started", len(newIns)), zap.Int("outputs_started", len(newOuts)),
		zap.Int("inputs_stopped", len(stopIns)), zap.Int("outputs_stopped", len(stopOuts)))
	return nil
}

// carryRenames moves the checkpoints of an output, and the positions of an
// input, that the new configuration renamed: a removed and an added
// component of the same type with the same settings (and, for outputs, the
// same streams). Each removed one is matched at most once.
func (a *Agent) carryRenames(removedOuts []*unit, newOuts []pending, removedIns []*unit, newIns []pending, cfg *config.Config) {
	for _, r := range removedOuts {
		for _, p := range newOuts {
			if _, existed := a.cfg.Outputs[p.u.id.Name]; existed || !reflect.DeepEqual(r.cfg, p.u.cfg) ||
				!slices.Equal(streamNames(r.streams), streamNames(p.u.streams)) {
				continue
			}
			err := a.spool.Checkpoints().Copy(r.id.Name, p.u.id.Name)
			if err == nil {
				err = copyFile(a.statePath(r.id.Name), a.statePath(p.u.id.Name))
			}
			if err != nil {
				a.log.Error("output renamed, but its checkpoints could not be carried over: it starts at start_at",
					zap.String("from", r.id.Name), zap.String("to", p.u.id.Name), zap.Error(err))
			} else {
				a.log.Info("output renamed: its checkpoints carry over", zap.String("from", r.id.Name), zap.String("to", p.u.id.Name))
			}
			break
		}
	}
	for _, r := range removedIns {
		for _, p := range newIns {
			if _, existed := a.cfg.Inputs[p.u.id.Name]; existed || !reflect.DeepEqual(r.cfg, p.u.cfg) {
				continue
			}
			if err := copyFile(a.spool.PositionsPath(r.id.Name), a.spool.PositionsPath(p.u.id.Name)); err != nil {
				a.log.Error("input renamed, but its positions could not be carried over", zap.String("from", r.id.Name),
					zap.String("to", p.u.id.Name), zap.Error(err))
			} else {
				a.log.Info("input renamed: its positions carry over", zap.String("from", r.id.Name), zap.String("to", p.u.id.Name))
			}
			break
		}
	}
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
	for _, name := range sortedNames(cfg.Streams) {
		if prev, ok := old.Streams[name]; ok && prev != cfg.Streams[name] {
			warn("streams." + name)
		}
	}
}

// newListeners are the listeners of cfg that old does not have.
func newListeners(old, cfg *config.Config) []component.Listener {
	var out []component.Listener
	have := old.Listeners()
	for _, l := range cfg.Listeners() {
		if l.Path == "http.address" {
			continue // moved by restartHTTP, which keeps the old one on failure
		}
		held := false
		for _, h := range have {
			if h.Network == l.Network && sameAddress(h.Address, l.Address) {
				held = true
				break
			}
		}
		if !held {
			out = append(out, l)
		}
	}
	return out
}

func sameAddress(a, b string) bool {
	return a == b || filepath.IsAbs(a) && filepath.Clean(a) == filepath.Clean(b)
}
