package agent

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/capstan-agent/capstan/component"
)

// proveBindable binds every listener and lets it go at once, so that a
// reload is refused while the running configuration still runs, rather than
// applied and then failing. A unix socket path is proven by its directory
// being writable and no live socket being there.
func proveBindable(ls []component.Listener) error {
	var errs []error
	for _, l := range ls {
		if err := tryBind(l); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", l.Path, err))
		}
	}
	return errors.Join(errs...)
}

func tryBind(l component.Listener) error {
	switch l.Network {
	case "tcp":
		ln, err := net.Listen("tcp", l.Address)
		if err != nil {
			return err
		}
		return ln.Close()
	case "udp":
		pc, err := net.ListenPacket("udp", l.Address)
		if err != nil {
			return err
		}
		return pc.Close()
	case "unix", "unixgram":
		if c, err := net.Dial(l.Network, l.Address); err == nil {
			c.Close()
			return fmt.Errorf("%s: a live socket is there (another process listens on it)", l.Address)
		}
		dir := filepath.Dir(l.Address)
		if err := unix.Access(dir, unix.W_OK|unix.X_OK); err != nil {
			return fmt.Errorf("cannot create a socket in %s: %w", dir, err)
		}
		return nil
	}
	return fmt.Errorf("unknown network %q", l.Network)
}

// copyFile copies src to dst (replacing it atomically); a missing src is
// nothing to copy.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer in.Close()
	tmp := dst + ".tmp"
	out, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, dst)
}

func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}
