package file

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"

	"github.com/capstan-agent/capstan/spool"
)

// positionsVersion is the version of the positions file (docs/inputs-file.md).
const positionsVersion = 1

// positions is the file an input keeps under the spool's positions/ dir. It
// is a hint that bounds work after a restart: the spool's tail, which knows
// each producer's last sequence, wins where it is further.
type positions struct {
	Version int            `json:"version"`
	Input   string         `json:"input"`
	Files   []posEntry     `json:"files"`
	Retired []retiredEntry `json:"retired,omitempty"`
}

// posEntry is where one file stands.
type posEntry struct {
	Path        string      `json:"path"`
	ID          fileID      `json:"id"`
	Fingerprint fingerprint `json:"fingerprint"`
	Generation  uint32      `json:"generation"`
	Producer    uint64      `json:"producer"`
	Partition   int         `json:"partition"`
	Offset      int64       `json:"offset"`     // file offset: everything before is in the spool
	SpoolNext   uint64      `json:"spool_next"` // spool offset after the file's last batch
	GoneSince   int64       `json:"gone_since,omitempty"`
	// Copy marks a copy that continues a truncated file and has not yet
	// grown to Offset (copytruncate still copying): not a truncation.
	Copy bool `json:"copy,omitempty"`
}

// retiredEntry is the generation a file had before it was truncated: a copy
// of it that appears (copytruncate) continues its producer from its offset.
type retiredEntry struct {
	Fingerprint fingerprint `json:"fingerprint"`
	Producer    uint64      `json:"producer"`
	Partition   int         `json:"partition"`
	Offset      int64       `json:"offset"`
	At          int64       `json:"at"`
}

func loadPositions(path string) (positions, error) {
	var p positions
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return p, nil
	}
	if err != nil {
		return p, fmt.Errorf("read positions: %w", err)
	}
	if p, err = decodePositions(b); err != nil {
		return positions{}, fmt.Errorf("positions %s: %w", path, err)
	}
	return p, nil
}

// decodePositions reads a positions file's content; values no input writes
// (a negative offset or partition) are refused, so that a damaged file
// costs a re-read, never a wrong index.
func decodePositions(b []byte) (positions, error) {
	var p positions
	if err := json.Unmarshal(b, &p); err != nil {
		return positions{}, err
	}
	if p.Version != positionsVersion {
		return positions{}, fmt.Errorf("version %d, want %d", p.Version, positionsVersion)
	}
	for i, f := range p.Files {
		if f.Partition < 0 || f.Offset < 0 || f.Fingerprint.N < 0 || f.Fingerprint.N > maxFingerprintBytes {
			return positions{}, fmt.Errorf("files[%d] (%s): partition %d, offset %d, fingerprint of %d bytes: not what an input writes", i, f.Path, f.Partition, f.Offset, f.Fingerprint.N)
		}
	}
	for i, r := range p.Retired {
		if r.Partition < 0 || r.Offset < 0 || r.Fingerprint.N < 0 || r.Fingerprint.N > maxFingerprintBytes {
			return positions{}, fmt.Errorf("retired[%d]: partition %d, offset %d: not what an input writes", i, r.Partition, r.Offset)
		}
	}
	return p, nil
}

func savePositions(path string, p positions) error {
	p.Version = positionsVersion
	sort.Slice(p.Files, func(i, j int) bool { return p.Files[i].Path < p.Files[j].Path })
	b, err := json.MarshalIndent(p, "", " ")
	if err != nil {
		return fmt.Errorf("encode positions: %w", err)
	}
	if err := spool.WriteFileAtomic(path, append(b, '\n')); err != nil {
		return fmt.Errorf("write positions: %w", err)
	}
	return nil
}
