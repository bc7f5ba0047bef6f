package main

import (
	"context"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
	"go.uber.org/zap"
)

// watchConfig sends on reloads when the configuration file changes, until ctx
// ends. It watches the file's directory, not the file: editors and
// Kubernetes ConfigMaps replace a file by rename (a ConfigMap swaps a
// ..data symlink), which a watch on the file itself would lose.
func watchConfig(ctx context.Context, path string, reloads chan<- struct{}, log *zap.Logger) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	if err := w.Add(dir); err != nil {
		w.Close()
		return err
	}
	go func() {
		defer w.Close()
		// A save is often several events; reload once they settle.
		const settle = 300 * time.Millisecond
		timer := time.NewTimer(time.Hour)
		timer.Stop()
		defer timer.Stop()
		name := filepath.Base(path)
		for {
			select {
			case <-ctx.Done():
				return
			case ev, ok := <-w.Events:
				if !ok {
					return
				}
				if b := filepath.Base(ev.Name); b == name || b == "..data" {
					timer.Reset(settle)
				}
			case err, ok := <-w.Errors:
				if !ok {
					return
				}
				log.Warn("config watch", zap.Error(err))
			case <-timer.C:
				select {
				case reloads <- struct{}{}:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return nil
}
