package file

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// fileID is what stays the same for one file across renames: its device and
// inode, and its birth time, which tells a reused inode from the file that had
// it before (0 where the filesystem does not report it).
type fileID struct {
	Dev   uint64 `json:"dev"`
	Ino   uint64 `json:"ino"`
	Birth int64  `json:"birth"`
}

type fileStat struct {
	id    fileID
	size  int64
	mtime int64
	mode  uint32 // type and permission bits (st_mode)
}

func (s fileStat) regular() bool { return s.mode&unix.S_IFMT == unix.S_IFREG }

func fromStatx(st *unix.Statx_t) fileStat {
	id := fileID{Dev: unix.Mkdev(st.Dev_major, st.Dev_minor), Ino: st.Ino}
	if st.Mask&unix.STATX_BTIME != 0 {
		id.Birth = st.Btime.Sec*1_000_000_000 + int64(st.Btime.Nsec)
	}
	return fileStat{id: id, size: int64(st.Size), mtime: st.Mtime.Sec*1_000_000_000 + int64(st.Mtime.Nsec), mode: uint32(st.Mode)}
}

const statxMask = unix.STATX_INO | unix.STATX_SIZE | unix.STATX_TYPE | unix.STATX_MODE | unix.STATX_BTIME | unix.STATX_MTIME

// statPath stats the file a path leads to (symlinks followed).
func statPath(path string) (fileStat, error) {
	var st unix.Statx_t
	if err := unix.Statx(unix.AT_FDCWD, path, 0, statxMask, &st); err != nil {
		return fileStat{}, &os.PathError{Op: "statx", Path: path, Err: err}
	}
	return fromStatx(&st), nil
}

// statFile stats an open file.
func statFile(f *os.File) (fileStat, error) {
	var st unix.Statx_t
	if err := unix.Statx(int(f.Fd()), "", unix.AT_EMPTY_PATH, statxMask, &st); err != nil {
		return fileStat{}, &os.PathError{Op: "statx", Path: f.Name(), Err: err}
	}
	return fromStatx(&st), nil
}

// fingerprint identifies a file's content by a hash of its first N bytes.
// A file shorter than the configured length has a fingerprint of what it
// holds, extended as it grows.
type fingerprint struct {
	N   int    `json:"n"`
	Sum uint64 `json:"sum"`
}

// readPrefix reads up to n leading bytes of f into buf.
func readPrefix(f *os.File, buf []byte, n int) ([]byte, error) {
	if n > len(buf) {
		n = len(buf)
	}
	got, err := f.ReadAt(buf[:n], 0)
	if err != nil && err != io.EOF {
		return nil, fmt.Errorf("read %s: %w", f.Name(), err)
	}
	return buf[:got], nil
}

func sum64(b []byte) uint64 {
	h := fnv.New64a()
	h.Write(b)
	return h.Sum64()
}

// takeFingerprint hashes the first max bytes of f (fewer if it is shorter).
func takeFingerprint(f *os.File, buf []byte, max int) (fingerprint, error) {
	b, err := readPrefix(f, buf, max)
	if err != nil {
		return fingerprint{}, err
	}
	return fingerprint{N: len(b), Sum: sum64(b)}, nil
}

// prefixMatches reports whether f begins with the content fp was taken of.
// A file shorter than fp.N does not (yet) match.
func prefixMatches(f *os.File, buf []byte, fp fingerprint) (bool, error) {
	if fp.N == 0 {
		return true, nil
	}
	b, err := readPrefix(f, buf, fp.N)
	if err != nil {
		return false, err
	}
	return len(b) == fp.N && sum64(b) == fp.Sum, nil
}

// producerID is the identity a file's batches carry (docs/inputs-file.md): one per
// agent, input, file and generation (bumped on each truncation), never 0.
func producerID(agent [16]byte, input string, id fileID, gen uint32) uint64 {
	h := fnv.New64a()
	h.Write(agent[:])
	h.Write([]byte(input))
	var b [28]byte
	binary.LittleEndian.PutUint64(b[0:], id.Dev)
	binary.LittleEndian.PutUint64(b[8:], id.Ino)
	binary.LittleEndian.PutUint64(b[16:], uint64(id.Birth))
	binary.LittleEndian.PutUint32(b[24:], gen)
	h.Write(b[:])
	if p := h.Sum64(); p != 0 {
		return p
	}
	return 1
}

// partitionFor spreads files over partitions by identity, so that one file
// always lands in one partition and its order holds.
func partitionFor(id fileID, n int) int {
	h := fnv.New64a()
	var b [24]byte
	binary.LittleEndian.PutUint64(b[0:], id.Dev)
	binary.LittleEndian.PutUint64(b[8:], id.Ino)
	binary.LittleEndian.PutUint64(b[16:], uint64(id.Birth))
	h.Write(b[:])
	return int(h.Sum64() % uint64(n))
}
