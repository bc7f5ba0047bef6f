package spool

import (
	"fmt"
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
	if err != nil {
		return fmt.Errorf("copy checkpoint %s to %s: %w", from, to, err)
	}
	if offsets == nil {
		return nil
	}
	b := encodeCheckpoint(offsets)
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	return writeFileAtomic(filepath.Join(c.dir, to), b)
}
