package spool

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/capstan-agent/capstan/spool/batch"
)

// Key names a partition of a stream.
type Key struct {
	Stream    string
	Partition int
}

func (k Key) String() string { return k.Stream + "/" + strconv.Itoa(k.Partition) }

// MarshalText writes a key as "stream/partition", as checkpoint files do.
func (k Key) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText reads "stream/partition".
func (k *Key) UnmarshalText(b []byte) error {
	s := string(b)
	i := strings.LastIndexByte(s, '/')
	p, err := strconv.Atoi(s[i+1:])
	if i < 1 || err != nil || p < 0 {
		return fmt.Errorf("bad partition key %q: want stream/N", s)
	}
	*k = Key{s[:i], p}
	return nil
}

// Checkpoints stores each consumer's committed offsets, one small file per
// consumer under checkpoints/, replaced atomically. Retention honours the
// lowest committed offset of the registered consumers.
type Checkpoints struct {
	dir   string
	spool *Spool

	writeMu   sync.Mutex // orders file writes: a later commit never loses to an earlier one
	mu        sync.Mutex
	consumers map[string]map[Key]uint64 // registered consumers only
}

// ErrBadCheckpoint means a checkpoint file could not be read; the consumer
// decides where to start (re-sending is better than losing).
var ErrBadCheckpoint = errors.New("checkpoint file damaged")

// ErrPreviousCheckpoint comes with offsets: the consumer's file was
// damaged (a write torn by a power loss) and the offsets are those of the
// commit before it, which the spare file keeps. The consumer resumes there
// and sends again what it delivered since.
var ErrPreviousCheckpoint = errors.New("checkpoint file damaged; the commit before it is used")

// prevSuffix names a consumer's spare checkpoint file: after a commit it
// holds the commit before (not a consumer's name: those have no dot).
const prevSuffix = ".prev"

type checkpointFile struct {
	Version int             `json:"version"`
	Offsets json.RawMessage `json:"offsets"` // "stream/partition" → next offset to read
	// CRC is the CRC-32C of Offsets as the file spells it; files written
	// before it was added have none.
	CRC *uint32 `json:"crc32c"`
}

// Register makes a consumer count for retention and returns its committed
// offsets. Until it commits a partition, nothing of that partition is deleted
// on its account being unknown: it holds retention at 0.
func (c *Checkpoints) Register(consumer string) (map[Key]uint64, error) {
	if !validName(consumer) {
		return nil, fmt.Errorf("consumer name %q: want letters, digits, '_' and '-'", consumer)
	}
	offsets, err := c.Load(consumer)
	c.mu.Lock()
	defer c.mu.Unlock()
	if offsets == nil {
		offsets = map[Key]uint64{}
	}
	c.consumers[consumer] = offsets
	out := make(map[Key]uint64, len(offsets))
	for k, v := range offsets {
		out[k] = v
	}
	return out, err
}

// Unregister stops a consumer from holding retention back (its file stays,
// for a consumer that comes back).
func (c *Checkpoints) Unregister(consumer string) {
	c.mu.Lock()
	delete(c.consumers, consumer)
	c.mu.Unlock()
}

// Load reads a consumer's checkpoint file; a missing file is no offsets. A
// damaged file is read once more (another process may have read it while
// this one's commit exchanged it twice), then its spare is: offsets from
// the spare come with an error wrapping ErrPreviousCheckpoint.
func (c *Checkpoints) Load(consumer string) (map[Key]uint64, error) {
	// Commits of this process wait: they never write a file being read.
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	path := filepath.Join(c.dir, consumer)
	out, err := loadCheckpoint(path)
	if errors.Is(err, ErrBadCheckpoint) {
		out, err = loadCheckpoint(path)
	}
	if !errors.Is(err, ErrBadCheckpoint) {
		return out, err
	}
	prev, perr := loadCheckpoint(path + prevSuffix)
	if perr != nil || prev == nil {
		return nil, err
	}
	return prev, fmt.Errorf("%w (%s: %w)", ErrPreviousCheckpoint, path+prevSuffix, err)
}

func loadCheckpoint(path string) (map[Key]uint64, error) {
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read checkpoint %s: %w", path, err)
	}
	out, err := decodeCheckpoint(b)
	if err != nil {
		return nil, fmt.Errorf("read checkpoint %s: %w", path, err)
	}
	return out, nil
}

// decodeCheckpoint decodes the bytes of a checkpoint file (docs/format.md).
// Any error wraps ErrBadCheckpoint.
func decodeCheckpoint(b []byte) (map[Key]uint64, error) {
	var f checkpointFile
	if err := json.Unmarshal(b, &f); err != nil || f.Version != 1 {
		return nil, ErrBadCheckpoint
	}
	if f.CRC != nil && batch.Checksum(f.Offsets) != *f.CRC {
		return nil, fmt.Errorf("offsets do not match their CRC-32C: %w", ErrBadCheckpoint)
	}
	var offsets map[string]uint64
	if err := json.Unmarshal(f.Offsets, &offsets); err != nil {
		return nil, ErrBadCheckpoint
	}
	out := make(map[Key]uint64, len(offsets))
	for k, v := range offsets {
		var key Key
		if err := key.UnmarshalText([]byte(k)); err != nil {
			return nil, fmt.Errorf("%v: %w", err, ErrBadCheckpoint)
		}
		out[key] = v
	}
	return out, nil
}

// encodeCheckpoint is the file for offsets: stable, since JSON sorts map keys.
func encodeCheckpoint(offsets map[Key]uint64) []byte {
	m := make(map[string]uint64, len(offsets))
	for k, v := range offsets {
		m[k.String()] = v
	}
	raw, _ := json.Marshal(m) // strings and numbers only: cannot fail
	crc := batch.Checksum(raw)
	b, _ := json.Marshal(checkpointFile{Version: 1, Offsets: raw, CRC: &crc})
	return b
}

// Consumers lists the consumers with a checkpoint file.
func (c *Checkpoints) Consumers() ([]string, error) {
	entries, err := os.ReadDir(c.dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if validName(e.Name()) && e.Type().IsRegular() {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

// Commit records offsets (the next offset to read, per partition) for a
// registered consumer, durably, then lets retention free what every consumer
// has now passed. An offset beyond its partition's next offset cannot come
// from a delivery: the whole commit is refused with a *BeyondEndError and
// nothing of it is written. So is an offset of a partition that is not open.
func (c *Checkpoints) Commit(consumer string, offsets map[Key]uint64) error {
	return c.commit(consumer, offsets, writeFileAtomic)
}

// commit records offsets and writes the consumer's file with write (with
// or without waiting for the disk), then runs retention.
func (c *Checkpoints) commit(consumer string, offsets map[Key]uint64, write func(path string, b []byte) error) error {
	if err := c.checkBounds(consumer, offsets); err != nil {
		return err
	}
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	c.mu.Lock()
	cur, ok := c.consumers[consumer]
	if !ok {
		c.mu.Unlock()
		return fmt.Errorf("commit for unregistered consumer %q", consumer)
	}
	for k, v := range offsets {
		cur[k] = v
	}
	b := encodeCheckpoint(cur)
	c.mu.Unlock()
	if err := write(filepath.Join(c.dir, consumer), b); err != nil {
		return fmt.Errorf("commit checkpoint: %w", err)
	}
	keys := make([]Key, 0, len(offsets))
	for k := range offsets {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
	for _, k := range keys {
		if p := c.spool.partition(k); p != nil {
			p.committed()
		}
	}
	return nil
}

// checkBounds refuses offsets past the end of their partitions. A
// partition's next offset only grows while the spool is open, so a check
// passed here still holds when the file is written.
func (c *Checkpoints) checkBounds(consumer string, offsets map[Key]uint64) error {
	keys := make([]Key, 0, len(offsets))
	for k := range offsets {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
	for _, k := range keys {
		p := c.spool.partition(k)
		if p == nil {
			return fmt.Errorf("commit for consumer %s: partition %s is not open", consumer, k)
		}
		if next := p.NextOffset(); offsets[k] > next {
			return &BeyondEndError{Consumer: consumer, Key: k, Offset: offsets[k], Next: next}
		}
	}
	return nil
}

// min is the lowest committed offset of a partition over the registered
// consumers; ok is false when there are none.
func (c *Checkpoints) min(k Key) (uint64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.consumers) == 0 {
		return 0, false
	}
	min := ^uint64(0)
	for _, offsets := range c.consumers {
		if v := offsets[k]; v < min {
			min = v
		}
	}
	return min, true
}
