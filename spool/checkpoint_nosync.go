package spool

import (
	"fmt"
	"os"
	"path/filepath"
)

// CommitNoSync is Commit without waiting for the disk. The file is still
// replaced atomically (a temporary file renamed over it), so a killed
// process leaves the old offsets or the new ones, never a mix: the page
// cache outlives the process. A power loss may lose the commits made since
// the consumer's last Sync. Outputs commit this way after every
// acknowledged request and Sync on an interval and when they stop.
func (c *Checkpoints) CommitNoSync(consumer string, offsets map[Key]uint64) error {
	return c.commit(consumer, offsets, replaceFile)
}

// Sync makes the consumer's last commit durable: its file, then the
// directory that names it.
func (c *Checkpoints) Sync(consumer string) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	path := filepath.Join(c.dir, consumer)
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("sync checkpoint: %w", err)
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sync checkpoint %s: %w", path, err)
	}
	return syncDir(c.dir)
}

// ReplaceFile replaces path with data atomically without fsync: a
// temporary file written and renamed over path, so that a killed process
// leaves the old content or the new and a reader sees one or the other,
// whole; a power loss may leave the old (pair it with SyncFile where that
// matters). On ext4 a rename that replaces a file costs 100–400 µs of
// kernel time (the new file is flushed, the old one's blocks freed):
// callers pay it per request, never per record.
func ReplaceFile(path string, data []byte) error { return replaceFile(path, data) }

func replaceFile(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	_, err = tmp.Write(data)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// SyncFile fsyncs path and its directory: what ReplaceFile wrote becomes
// durable.
func SyncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("sync %s: %w", path, err)
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sync %s: %w", path, err)
	}
	return syncDir(filepath.Dir(path))
}
