package spool

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// Spool is the data dir of one agent: its streams, checkpoints and positions.
// Open takes an exclusive lock on the dir; Close releases it.
type Spool struct {
	dir     string
	opts    Options
	log     *zap.Logger
	lock    *os.File
	agentID [16]byte
	ckpt    *Checkpoints

	mu      sync.Mutex
	streams map[string]*Stream

	sealMu  sync.Mutex
	toSeal  []sealedSegment
	sealSig chan struct{}

	closed atomic.Bool
	done   chan struct{}
	wg     sync.WaitGroup
}

type sealedSegment struct {
	p    *Partition
	seg  *segment
	idx  *os.File
	snap sealedSnapshot // of the segment that follows it
}

// sealedSnapshot is a producer snapshot waiting for its segment's data to be
// durable.
type sealedSnapshot struct {
	path string
	data []byte
}

// Open opens (or creates) the data dir, locks it, and starts the background
// work: fsync by interval, fsync of rolled segments, age-based rolls and
// retention.
func Open(dir string, opts Options) (*Spool, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("open spool %s: %w", dir, err)
	}
	for _, d := range []string{dir, filepath.Join(dir, "spool"), filepath.Join(dir, "checkpoints"), filepath.Join(dir, "positions")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("open spool %s: %w", dir, err)
		}
	}
	s := &Spool{
		dir: dir, opts: opts, log: opts.Logger,
		streams: make(map[string]*Stream),
		sealSig: make(chan struct{}, 1),
		done:    make(chan struct{}),
	}
	if s.lock, err = lockDir(dir); err != nil {
		return nil, fmt.Errorf("open spool: %w", err)
	}
	if s.agentID, err = loadAgentID(filepath.Join(dir, "agent.id")); err != nil {
		s.lock.Close()
		return nil, err
	}
	s.ckpt = &Checkpoints{dir: filepath.Join(dir, "checkpoints"), spool: s, consumers: map[string]map[Key]uint64{}}
	s.wg.Add(1)
	go s.background()
	return s, nil
}

// loadAgentID reads the agent's 128-bit id, making it on first start.
func loadAgentID(path string) ([16]byte, error) {
	var id [16]byte
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		if _, err := rand.Read(id[:]); err != nil {
			return id, err
		}
		return id, writeFileAtomic(path, []byte(hex.EncodeToString(id[:])+"\n"))
	}
	if err != nil {
		return id, fmt.Errorf("read agent id: %w", err)
	}
	if n, err := hex.Decode(id[:], bytes.TrimSpace(b)); err != nil || n != 16 {
		return id, fmt.Errorf("agent id %s is damaged (want 32 hex digits); delete it to make a new one", path)
	}
	return id, nil
}

// Dir is the data dir.
func (s *Spool) Dir() string { return s.dir }

// AgentID is the random id made on the data dir's first start.
func (s *Spool) AgentID() [16]byte { return s.agentID }

// Checkpoints is the store of consumers' committed offsets.
func (s *Spool) Checkpoints() *Checkpoints { return s.ckpt }

// PositionsPath is where an input keeps its positions (see WriteFileAtomic).
func (s *Spool) PositionsPath(input string) string {
	return filepath.Join(s.dir, "positions", input)
}

// Stream opens the stream name, creating it on first use. Opening it again
// returns the same stream; its partition count may grow between runs.
func (s *Spool) Stream(name string, opts StreamOptions) (*Stream, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return nil, ErrClosed
	}
	if st, ok := s.streams[name]; ok {
		if opts.Partitions != 0 && opts.Partitions != len(st.partitions) {
			return nil, fmt.Errorf("stream %s is open with %d partitions, not %d", name, len(st.partitions), opts.Partitions)
		}
		return st, nil
	}
	st, err := openStream(s, name, opts)
	if err != nil {
		return nil, err
	}
	s.streams[name] = st
	return st, nil
}

// Streams are the open streams, sorted by name.
func (s *Spool) Streams() []*Stream {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*Stream, 0, len(s.streams))
	for _, st := range s.streams {
		out = append(out, st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

func (s *Spool) partition(key Key) *Partition {
	s.mu.Lock()
	st := s.streams[key.Stream]
	s.mu.Unlock()
	if st == nil || key.Partition < 0 || key.Partition >= len(st.partitions) {
		return nil
	}
	return st.partitions[key.Partition]
}

// Sync forces every partition's appended bytes to disk.
func (s *Spool) Sync() error {
	var first error
	for _, st := range s.Streams() {
		for _, p := range st.partitions {
			p.dirty.Store(true)
			if err := p.sync(); err != nil && first == nil {
				first = err
			}
		}
	}
	return first
}

// Close stops the background work, syncs and closes every file and releases
// the lock. Appends waiting for space return ErrClosed. Safe to call twice.
func (s *Spool) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		return nil
	}
	close(s.done)
	s.wg.Wait()
	s.syncSealed()
	err := s.Sync()
	for _, st := range s.Streams() {
		if cerr := st.close(); cerr != nil && err == nil {
			err = cerr
		}
	}
	s.lock.Close()
	return err
}

// sealed queues a rolled segment for its one fsync, off the append path.
func (s *Spool) sealed(t sealedSegment) {
	s.sealMu.Lock()
	s.toSeal = append(s.toSeal, t)
	s.sealMu.Unlock()
	select {
	case s.sealSig <- struct{}{}:
	default:
	}
}

func (s *Spool) syncSealed() {
	s.sealMu.Lock()
	todo := s.toSeal
	s.toSeal = nil
	s.sealMu.Unlock()
	for _, t := range todo {
		if s.opts.Fsync != FsyncNever { // "never": the kernel writes back when it likes
			if t.idx != nil {
				_ = t.idx.Sync()
			}
			start := time.Now()
			err := fdatasync(t.seg.f)
			// A segment drop_oldest deleted first had no fsync, and needs none.
			if !t.seg.deleted.Load() {
				t.p.stats.fsync.observe(start, err)
			}
			if err != nil && !t.seg.deleted.Load() {
				// Without the snapshot the next open rebuilds the producer
				// table from the log itself.
				t.p.log.Warn("fsync of rolled segment failed; its producer snapshot is not written",
					zap.String("segment", t.seg.path), zap.Error(err))
				t.snap.data = nil
			}
		}
		if t.idx != nil {
			t.idx.Close()
		}
		if t.snap.data != nil {
			if err := writeFileAtomic(t.snap.path, t.snap.data); err != nil {
				t.p.log.Warn("producer snapshot failed", zap.String("path", t.snap.path), zap.Error(err))
			}
		}
	}
}

// background owns the spool's periodic work; Close stops it.
func (s *Spool) background() {
	defer s.wg.Done()
	tick := time.Second
	if s.opts.Fsync == FsyncInterval && s.opts.FsyncInterval < tick {
		tick = s.opts.FsyncInterval
	}
	t := time.NewTicker(tick)
	defer t.Stop()
	lastSync, lastRetention := time.Now(), time.Now()
	for {
		select {
		case <-s.done:
			return
		case <-s.sealSig:
			s.syncSealed()
		case now := <-t.C:
			if s.opts.Fsync == FsyncInterval && now.Sub(lastSync) >= s.opts.FsyncInterval {
				lastSync = now
				for _, st := range s.Streams() {
					for _, p := range st.partitions {
						if err := p.sync(); err != nil {
							s.log.Error("fsync failed", zap.Error(err))
						}
					}
				}
			}
			if now.Sub(lastRetention) >= time.Second {
				lastRetention = now
				for _, st := range s.Streams() {
					for _, p := range st.partitions {
						p.maintain(now)
					}
				}
			}
		}
	}
}
