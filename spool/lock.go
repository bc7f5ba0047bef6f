package spool

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// The data dir's LOCK file is flock(2)ed exclusively by the one agent that
// has the dir open, and holds its pid. This file is the only code that takes
// or tests that lock: Open, Inspect and the configuration check all come here.

// LockedError is a data dir whose LOCK another process holds. It matches
// ErrLocked with errors.Is.
type LockedError struct {
	Dir string
	PID string // as written in LOCK by the holder; "?" if it wrote none
}

func (e *LockedError) Error() string {
	return fmt.Sprintf("%s is locked by another capstan (pid %s)", e.Dir, e.PID)
}

// Is makes errors.Is(err, ErrLocked) true.
func (e *LockedError) Is(target error) bool { return target == ErrLocked }

func lockPath(dir string) string { return filepath.Join(dir, "LOCK") }

// lockDir takes the data dir's lock for an open Spool and writes the pid
// into it. The lock lasts as long as the returned file stays open.
func lockDir(dir string) (*os.File, error) {
	path := lockPath(dir)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		defer f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, &LockedError{Dir: dir, PID: readPID(f)}
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return f, nil
}

// CheckLock tells whether an agent could take the data dir's lock now: nil
// if it is free or there is no LOCK file yet, a *LockedError if a process
// holds it, another error if LOCK cannot be opened. It changes nothing and
// holds a shared lock only for an instant, so it works on a read-only copy
// and does not disturb another check running beside it.
func CheckLock(dir string) error {
	path := lockPath(dir)
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("check lock %s: %w", path, err)
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_SH|unix.LOCK_NB); err != nil {
		if errors.Is(err, unix.EWOULDBLOCK) {
			return &LockedError{Dir: dir, PID: readPID(f)}
		}
		return fmt.Errorf("check lock %s: %w", path, err)
	}
	return unix.Flock(int(f.Fd()), unix.LOCK_UN)
}

// readPID reads the pid a lock holder wrote.
func readPID(f *os.File) string {
	b, _ := io.ReadAll(io.NewSectionReader(f, 0, 32))
	if pid := strings.TrimSpace(string(b)); pid != "" {
		return pid
	}
	return "?"
}
