package lokifake

import (
	"encoding/binary"
	"errors"
)

// Snappy block format, decoded strictly as github.com/golang/snappy (which
// Loki uses) decodes it: a uvarint of the decoded length, then literals and
// copies (format_description.txt in the snappy sources). It refuses what
// klauspost's S2-based decoder would accept beyond snappy (S2's repeat
// offsets), so that the fake is no more lenient than Loki.

var (
	errSnappyCorrupt  = errors.New("snappy: corrupt input")
	errSnappyTooLarge = errors.New("snappy: decoded block is too large")
)

// snappyDecodedLen returns the length a block decodes to.
func snappyDecodedLen(src []byte) (int, error) {
	v, n := binary.Uvarint(src)
	if n <= 0 || v > 0xffffffff {
		return 0, errSnappyCorrupt
	}
	if v > 1<<31-1 {
		return 0, errSnappyTooLarge
	}
	return int(v), nil
}

// snappyDecode decodes a block into dst (reused when large enough).
func snappyDecode(dst, src []byte) ([]byte, error) {
	dLen, err := snappyDecodedLen(src)
	if err != nil {
		return nil, err
	}
	_, n := binary.Uvarint(src)
	src = src[n:]
	if cap(dst) < dLen {
		dst = make([]byte, dLen)
	}
	dst = dst[:dLen]
	d, s := 0, 0
	for s < len(src) {
		var length, offset int
		switch src[s] & 0x03 {
		case 0x00: // literal
			x := uint32(src[s] >> 2)
			switch {
			case x < 60:
				s++
			case x == 60:
				s += 2
				if s > len(src) {
					return nil, errSnappyCorrupt
				}
				x = uint32(src[s-1])
			case x == 61:
				s += 3
				if s > len(src) {
					return nil, errSnappyCorrupt
				}
				x = uint32(src[s-2]) | uint32(src[s-1])<<8
			case x == 62:
				s += 4
				if s > len(src) {
					return nil, errSnappyCorrupt
				}
				x = uint32(src[s-3]) | uint32(src[s-2])<<8 | uint32(src[s-1])<<16
			default:
				s += 5
				if s > len(src) {
					return nil, errSnappyCorrupt
				}
				x = uint32(src[s-4]) | uint32(src[s-3])<<8 | uint32(src[s-2])<<16 | uint32(src[s-1])<<24
			}
			length = int(x) + 1
			if length <= 0 || length > len(dst)-d || length > len(src)-s {
				return nil, errSnappyCorrupt
			}
			copy(dst[d:], src[s:s+length])
			d += length
			s += length
			continue
		case 0x01: // copy, 1-byte offset
			s += 2
			if s > len(src) {
				return nil, errSnappyCorrupt
			}
			length = 4 + int(src[s-2])>>2&0x7
			offset = int(uint32(src[s-2])&0xe0<<3 | uint32(src[s-1]))
		case 0x02: // copy, 2-byte offset
			s += 3
			if s > len(src) {
				return nil, errSnappyCorrupt
			}
			length = 1 + int(src[s-3])>>2
			offset = int(uint32(src[s-2]) | uint32(src[s-1])<<8)
		case 0x03: // copy, 4-byte offset
			s += 5
			if s > len(src) {
				return nil, errSnappyCorrupt
			}
			length = 1 + int(src[s-5])>>2
			offset = int(uint32(src[s-4]) | uint32(src[s-3])<<8 | uint32(src[s-2])<<16 | uint32(src[s-1])<<24)
		}
		if offset <= 0 || d < offset || length > len(dst)-d {
			return nil, errSnappyCorrupt
		}
		// The regions may overlap: copy forwards, byte by byte when they do.
		if offset >= length {
			copy(dst[d:d+length], dst[d-offset:])
		} else {
			for i := range length {
				dst[d+i] = dst[d-offset+i]
			}
		}
		d += length
	}
	if d != dLen {
		return nil, errSnappyCorrupt
	}
	return dst, nil
}
