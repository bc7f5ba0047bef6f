package spool

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// One lock implementation: Open takes it, CheckLock and Inspect see it, and
// all of them name the holder's pid.
func TestLockSeenByEveryone(t *testing.T) {
	dir := t.TempDir()
	if err := CheckLock(dir); err != nil {
		t.Fatalf("a dir without LOCK: %v", err)
	}
	s := openTest(t, dir, Options{})
	pid := strconv.Itoa(os.Getpid())
	for name, err := range map[string]error{"CheckLock": CheckLock(dir), "Open": func() error { _, err := Open(dir, Options{}); return err }()} {
		var le *LockedError
		if !errors.As(err, &le) || !errors.Is(err, ErrLocked) || le.PID != pid || le.Dir != dir {
			t.Fatalf("%s on a locked dir: %v", name, err)
		}
		if !strings.Contains(err.Error(), "is locked by another capstan (pid "+pid+")") {
			t.Errorf("%s: message %q", name, err)
		}
	}
	if info, err := Inspect(dir); err != nil || info.LockedBy != pid {
		t.Fatalf("inspect of a locked dir: %+v %v", info, err)
	}
	// Two checks at once do not see each other as the holder.
	s.Close()
	f, err := os.Open(lockPath(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_SH); err != nil { // another check, in the middle of its instant
		t.Fatal(err)
	}
	if err := CheckLock(dir); err != nil {
		t.Fatalf("a released lock, with another check beside: %v", err)
	}
	if info, err := Inspect(dir); err != nil || info.LockedBy != "" {
		t.Fatalf("inspect of a released dir: %+v %v", info, err)
	}
}
