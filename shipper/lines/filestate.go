package lines

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"

	"go.uber.org/zap"

	"github.com/capstan-agent/capstan/spool"
)

// fileState is what the file output records after every request, in its
// state file (replaced atomically): which file is the current one, its
// size, and the offset of each partition it holds every record before.
// docs/outputs.md explains how these make the file exactly once.
type fileState struct {
	Version int               `json:"version"`
	Dev     uint64            `json:"dev"`
	Ino     uint64            `json:"ino"`
	Size    int64             `json:"size"`
	Offsets map[string]uint64 `json:"offsets"` // "stream/partition" → next offset
	// Synced is the state as of the last fsync of the file: what a power
	// loss cannot take back.
	Synced *fileState `json:"synced,omitempty"`
}

const fileStateVersion = 1

func (s *fileSender) writeState() error {
	s.state.Version = fileStateVersion
	b, err := json.Marshal(&s.state)
	if err != nil {
		return err
	}
	if err := spool.ReplaceFile(s.statePath, b); err != nil {
		return fmt.Errorf("state file: %w", err)
	}
	return nil
}

// readState reads the state file; ok is false if there is none.
func readState(path string) (st fileState, ok bool, err error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return st, false, nil
	}
	if err != nil {
		return st, false, fmt.Errorf("read state file: %w", err)
	}
	if err := json.Unmarshal(b, &st); err != nil || st.Version != fileStateVersion || st.Offsets == nil ||
		st.Size < 0 || st.Synced != nil && (st.Synced.Size < 0 || st.Synced.Offsets == nil) {
		return st, false, fmt.Errorf("state file %s is damaged (remove it to append after what the file holds, at the checkpoint)", path)
	}
	return st, true, nil
}

func identity(fi fs.FileInfo) (dev, ino uint64) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Dev), st.Ino
	}
	return 0, 0
}

func (st *fileState) is(fi fs.FileInfo) bool {
	dev, ino := identity(fi)
	return fi.Mode().IsRegular() && dev == st.Dev && ino == st.Ino
}

// openFile opens Path for appending (emptied first if fresh) and records
// its identity and size.
func (s *fileSender) openFile(fresh bool) error {
	flags := os.O_WRONLY | os.O_APPEND | os.O_CREATE
	if fresh {
		flags |= os.O_TRUNC
	}
	f, err := os.OpenFile(s.cfg.Path, flags, 0o644)
	if err != nil {
		return err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	s.f = f
	s.state.Dev, s.state.Ino = identity(fi)
	s.state.Size = fi.Size()
	return nil
}

// cut truncates the open file to size, saying so if that cuts anything.
func (s *fileSender) cut(size int64, why string) error {
	if s.state.Size > size {
		s.log.Info(why, zap.String("path", s.cfg.Path), zap.Int64("bytes_cut", s.state.Size-size), zap.Int64("size", size))
		if err := s.f.Truncate(size); err != nil {
			return err
		}
		s.state.Size = size
	}
	return nil
}

// recover makes the file agree with the state recorded last, after a
// crash at any point:
//
//   - Path is the recorded file: bytes past the recorded size were written
//     by a request whose state was never recorded; they are cut, and go
//     again from the recorded offsets.
//   - Path.1 is the recorded file: a rotation was under way (the state is
//     recorded before every rotation, so at most one rename happened). It
//     is finished: Path.1 keeps the recorded size, and Path, if the
//     rotation made it, holds nothing recorded and starts empty.
//   - Shorter than recorded (a power loss lost written bytes): back to the
//     synced state, if the file still holds it.
//   - No state file: the output appends after what the file holds, from
//     the checkpoint.
func (s *fileSender) recover() error {
	st, ok, err := readState(s.statePath)
	if err != nil {
		return err
	}
	if !ok {
		s.state = fileState{Offsets: map[string]uint64{}}
		if err := s.openFile(false); err != nil {
			return err
		}
		if s.state.Size > 0 {
			s.log.Info("no recorded state: appending after the bytes the file holds, from the checkpoint",
				zap.String("path", s.cfg.Path), zap.Int64("size", s.state.Size))
		}
		return nil
	}
	s.state = st
	s.state.Synced = nil
	cur, curErr := os.Stat(s.cfg.Path)
	rot, rotErr := os.Stat(s.cfg.Path + ".1")
	switch {
	case curErr == nil && st.is(cur):
		if err := s.openFile(false); err != nil {
			return err
		}
		size := st.Size
		if s.state.Size < st.Size {
			if sy := st.Synced; sy != nil && sy.is(cur) && s.state.Size >= sy.Size {
				s.log.Warn("the file is shorter than recorded (a power loss?): back to its last synced state",
					zap.String("path", s.cfg.Path), zap.Int64("recorded", st.Size), zap.Int64("synced", sy.Size))
				s.state.Offsets, size = sy.Offsets, sy.Size
			} else {
				s.log.Error("the file is shorter than recorded and than synced: lines at its end are lost",
					zap.String("path", s.cfg.Path), zap.Int64("recorded", st.Size), zap.Int64("size", s.state.Size))
				size = s.state.Size
			}
		}
		return s.cut(size, "bytes written after the last recorded state cut")
	case rotErr == nil && st.is(rot):
		if rot.Size() > st.Size {
			if err := os.Truncate(s.cfg.Path+".1", st.Size); err != nil {
				return err
			}
			s.log.Info("bytes written after the last recorded state cut", zap.String("path", s.cfg.Path+".1"),
				zap.Int64("bytes_cut", rot.Size()-st.Size))
		}
		s.log.Info("finishing a rotation a crash interrupted", zap.String("path", s.cfg.Path))
		return s.openFile(true)
	default:
		s.log.Warn("the file the state records is gone (moved or deleted): writing a new one",
			zap.String("path", s.cfg.Path))
		return s.openFile(false)
	}
}
