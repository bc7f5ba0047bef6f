package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/capstan-agent/capstan/spool"
)

// CheckDataDir tells whether an agent could take the data dir: it exists and
// its LOCK is free, or it can be created. It creates nothing. A running agent
// holds the lock, so checking the configuration of a running agent fails here
// with a *spool.LockedError (errors.Is(err, spool.ErrLocked)).
func CheckDataDir(dir string) error {
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		parent := filepath.Dir(filepath.Clean(dir))
		for {
			pst, perr := os.Stat(parent)
			if perr == nil {
				if !pst.IsDir() {
					return fmt.Errorf("cannot create %s: %s is not a directory", dir, parent)
				}
				if unix.Access(parent, unix.W_OK|unix.X_OK) != nil {
					return fmt.Errorf("cannot create %s: %s is not writable", dir, parent)
				}
				return nil
			}
			next := filepath.Dir(parent)
			if next == parent {
				return fmt.Errorf("cannot create %s", dir)
			}
			parent = next
		}
	case err != nil:
		return fmt.Errorf("cannot use %s: %v", dir, pathErr(err))
	case !st.IsDir():
		return fmt.Errorf("%s is not a directory", dir)
	}
	if unix.Access(dir, unix.W_OK|unix.X_OK) != nil {
		return fmt.Errorf("%s is not writable", dir)
	}
	return spool.CheckLock(dir)
}

func pathErr(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}
