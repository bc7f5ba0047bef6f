package spool

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// Stream is a named log of a fixed number of partitions. An input picks the
// partition from its source, so order per source holds.
type Stream struct {
	spool      *Spool
	name       string
	dir        string
	opts       StreamOptions
	partitions []*Partition
	// segmentBytes is where the stream's segments roll (StreamOptions.segmentBytes).
	segmentBytes int64
}

// Name is the stream's name.
func (st *Stream) Name() string { return st.name }

// Partitions are the stream's partitions, in order.
func (st *Stream) Partitions() []*Partition { return st.partitions }

// Partition returns partition i.
func (st *Stream) Partition(i int) *Partition { return st.partitions[i] }

// Options are the options the stream was opened with, defaults applied.
func (st *Stream) Options() StreamOptions { return st.opts }

func openStream(s *Spool, name string, opts StreamOptions) (*Stream, error) {
	if !validName(name) {
		return nil, fmt.Errorf("stream name %q: want letters, digits, '_' and '-'", name)
	}
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", name, err)
	}
	st := &Stream{spool: s, name: name, dir: filepath.Join(s.dir, "spool", name), opts: opts,
		segmentBytes: opts.segmentBytes(s.opts.SegmentBytes)}
	existing, err := existingPartitions(st.dir)
	if err != nil {
		return nil, fmt.Errorf("open stream %s: %w", name, err)
	}
	if existing > opts.Partitions {
		return nil, fmt.Errorf("stream %s has %d partitions on disk, more than the %d configured: partitions cannot shrink without losing data",
			name, existing, opts.Partitions)
	}
	for i := 0; i < opts.Partitions; i++ {
		p, err := openPartition(st, i, filepath.Join(st.dir, strconv.Itoa(i)))
		if err != nil {
			st.close()
			return nil, fmt.Errorf("open stream %s: %w", name, err)
		}
		st.partitions = append(st.partitions, p)
	}
	return st, nil
}

func existingPartitions(dir string) (int, error) {
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range entries {
		if i, err := strconv.Atoi(e.Name()); err == nil && e.IsDir() && i+1 > n {
			n = i + 1
		}
	}
	return n, nil
}

func (st *Stream) close() error {
	var first error
	for _, p := range st.partitions {
		if err := p.close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

func validName(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
