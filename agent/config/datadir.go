package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// CheckDataDir tells whether an agent could take the data dir: it exists and
// its LOCK is free, or it can be created. It creates nothing. A running agent
// holds the lock, so checking the configuration of a running agent fails here.
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
	lock := filepath.Join(dir, "LOCK")
	f, err := os.OpenFile(lock, os.O_RDWR, 0)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("cannot open %s: %v", lock, pathErr(err))
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		if errors.Is(err, unix.EWOULDBLOCK) {
			pid, _ := os.ReadFile(lock)
			return fmt.Errorf("%s is locked by another capstan (pid %s)", dir, bytes.TrimSpace(pid))
		}
		return fmt.Errorf("cannot lock %s: %v", lock, err)
	}
	return unix.Flock(int(f.Fd()), unix.LOCK_UN)
}

func pathErr(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}
