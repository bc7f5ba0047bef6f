package spool

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Copy makes consumer to start where consumer from is: its checkpoint file
// is copied (an output renamed in the configuration keeps its place). to must
// not be registered; from's file stays.
func (c *Checkpoints) Copy(from, to string) error {
	if !validName(to) {
		return fmt.Errorf("consumer name %q: want letters, digits, '_' and '-'", to)
	}
	c.mu.Lock()
	_, registered := c.consumers[to]
	c.mu.Unlock()
	if registered {
		return fmt.Errorf("copy checkpoint %s to %s: %s is running", from, to, to)
	}
	offsets, err := c.Load(from)
	if err != nil && !errors.Is(err, ErrPreviousCheckpoint) {
		return fmt.Errorf("copy checkpoint %s to %s: %w", from, to, err)
	}
	if offsets == nil {
		return nil
	}
	b := encodeCheckpoint(offsets)
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	path := filepath.Join(c.dir, to)
	// A spare left by an earlier consumer of that name is not to's commit
	// before this one.
	if err := os.Remove(path + prevSuffix); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("copy checkpoint %s to %s: %w", from, to, err)
	}
	return writeFileAtomic(path, b)
}
