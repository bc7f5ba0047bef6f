package lines

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strconv"

	"go.uber.org/zap"

	"github.com/capstan-agent/capstan/component"
	"github.com/capstan-agent/capstan/shipper/delivery"
	"github.com/capstan-agent/capstan/spool"
)

// NewFile returns an output appending lines to a file, rotated by size,
// exactly once across kill -9: after every request it records the file's
// size with the offsets it holds up to (its state file, replaced
// atomically), and when it starts it cuts the file back to that size and
// resumes at those offsets (docs/outputs.md argues the order of writes).
// The file is opened when the output runs.
func NewFile(set component.Settings, cfg *FileConfig) (*delivery.Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := set.Logger
	if log == nil {
		log = zap.NewNop()
	}
	// One file written in order: one request at a time.
	opts := delivery.Options{Config: cfg.Config, Concurrency: 1}
	return delivery.New(set, opts, encoder{format: cfg.Encoding}, &fileSender{cfg: *cfg, log: log}), nil
}

// fileSender writes requests to the file, record boundaries intact: a
// request that does not fit is split at a record between two files.
type fileSender struct {
	cfg       FileConfig
	log       *zap.Logger
	statePath string

	f     *os.File
	state fileState // what the file holds, as last recorded
	dirty bool      // written since the last Sync
}

// Open recovers the file from its state (see recover) and moves the
// offsets to resume at to where the file got to.
func (s *fileSender) Open(_ context.Context, host component.OutputHost, resume map[spool.Key]uint64) error {
	sh, ok := host.(component.StateHost)
	if !ok {
		return fmt.Errorf("file output: the host keeps no state file for outputs")
	}
	s.statePath = sh.StatePath()
	if err := os.MkdirAll(filepath.Dir(s.statePath), 0o755); err != nil {
		return fmt.Errorf("state file: %w", err)
	}
	if err := s.recover(); err != nil {
		return fmt.Errorf("path: %w", err)
	}
	for k, v := range resume {
		if _, ok := s.state.Offsets[k.String()]; !ok {
			s.state.Offsets[k.String()] = v
		}
	}
	for k := range resume {
		resume[k] = s.state.Offsets[k.String()]
	}
	s.dirty = true // what the file holds now is its synced state
	return s.Sync()
}

// Send appends the records of req the file does not hold yet. When the
// next record would take the file past max_bytes, the state is recorded up
// to that record and the file rotated; a file holds at least one record.
func (s *fileSender) Send(_ context.Context, req *delivery.Request) delivery.Result {
	part := req.Partition().String()
	i := 0
	for i < req.Len() && req.Offset(i) < s.state.Offsets[part] {
		i++ // written before an error cut this request short: not again
	}
	for i < req.Len() {
		start := recordStart(req, i)
		j := i
		for j < req.Len() && (s.state.Size+int64(req.RecordEnd(j)-start) <= int64(s.cfg.MaxBytes) || s.state.Size == 0 && j == i) {
			j++
		}
		if j == i {
			s.state.Offsets[part] = req.Offset(i)
			if err := s.writeState(); err != nil {
				return delivery.Retry("state", err)
			}
			if err := s.rotate(); err != nil {
				return delivery.Retry("rotate", fmt.Errorf("rotate %s: %w", s.cfg.Path, err))
			}
			continue
		}
		n, err := s.f.Write(req.Body[start:req.RecordEnd(j-1)])
		s.dirty = true
		if err != nil {
			// Cut what was written of these records: they go again whole.
			if terr := s.f.Truncate(s.state.Size); terr != nil {
				s.log.Error("cannot cut a failed write back", zap.String("path", s.cfg.Path), zap.Error(terr))
				s.state.Size += int64(n)
			}
			return delivery.Retry("write", fmt.Errorf("write %s: %w", s.cfg.Path, err))
		}
		s.state.Size += int64(n)
		i = j
	}
	s.state.Offsets[part] = req.Next()
	if err := s.writeState(); err != nil {
		return delivery.Retry("state", err)
	}
	return delivery.Delivered()
}

func recordStart(req *delivery.Request, i int) int {
	if i == 0 {
		return 0
	}
	return req.RecordEnd(i - 1)
}

// rotate syncs and closes the file, shifts Path.i to Path.i+1 (dropping the
// oldest), renames Path to Path.1, opens a new Path and records it.
func (s *fileSender) rotate() error {
	if err := s.f.Sync(); err != nil {
		return err
	}
	s.f.Close()
	s.f = nil
	name := func(i int) string { return s.cfg.Path + "." + strconv.Itoa(i) }
	if err := os.Remove(name(s.cfg.MaxFiles)); err != nil && !os.IsNotExist(err) {
		return err
	}
	for i := s.cfg.MaxFiles - 1; i >= 1; i-- {
		if err := os.Rename(name(i), name(i+1)); err != nil && !os.IsNotExist(err) {
			return err
		}
	}
	if err := os.Rename(s.cfg.Path, name(1)); err != nil {
		return err
	}
	if err := syncDir(filepath.Dir(s.cfg.Path)); err != nil {
		return err
	}
	if err := s.openFile(true); err != nil {
		return err
	}
	return s.writeState()
}

// Sync makes the file and its state durable: the file first, so that a
// state on disk never counts bytes the disk does not hold.
func (s *fileSender) Sync() error {
	if s.f == nil {
		return nil
	}
	if s.dirty {
		if err := s.f.Sync(); err != nil {
			return fmt.Errorf("sync %s: %w", s.cfg.Path, err)
		}
		s.dirty = false
		synced := s.state
		synced.Offsets, synced.Synced = maps.Clone(s.state.Offsets), nil
		s.state.Synced = &synced
		if err := s.writeState(); err != nil {
			return err
		}
	}
	return spool.SyncFile(s.statePath)
}

// Close syncs and closes the file.
func (s *fileSender) Close() error {
	if s.f == nil {
		return nil
	}
	err := s.Sync()
	if cerr := s.f.Close(); err == nil {
		err = cerr
	}
	s.f = nil
	return err
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
