package conf

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Size is a number of bytes, written as people write it: 64MiB, 1GB, 512k,
// 4096. Binary units (KiB, MiB, GiB, TiB) are powers of 1024, decimal ones
// (KB/K, MB/M, GB/G, TB/T) powers of 1000.
type Size int64

var sizeUnits = map[string]int64{
	"": 1, "b": 1,
	"k": 1e3, "kb": 1e3, "kib": 1 << 10,
	"m": 1e6, "mb": 1e6, "mib": 1 << 20,
	"g": 1e9, "gb": 1e9, "gib": 1 << 30,
	"t": 1e12, "tb": 1e12, "tib": 1 << 40,
}

// ParseSize parses a size such as "64MiB" or "1.5GB".
func ParseSize(s string) (Size, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && (t[i] >= '0' && t[i] <= '9' || t[i] == '.') {
		i++
	}
	num, unit := t[:i], strings.ToLower(strings.TrimSpace(t[i:]))
	mult, ok := sizeUnits[unit]
	if num == "" || !ok {
		return 0, fmt.Errorf("%q is not a size (write e.g. 4096, 512KiB, 64MiB, 1GB)", s)
	}
	if !strings.Contains(num, ".") {
		n, err := strconv.ParseInt(num, 10, 64)
		if err != nil || n > math.MaxInt64/mult {
			return 0, fmt.Errorf("%q is not a size: out of range", s)
		}
		return Size(n * mult), nil
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || f*float64(mult) >= math.MaxInt64 {
		return 0, fmt.Errorf("%q is not a size (write e.g. 4096, 512KiB, 64MiB, 1GB)", s)
	}
	return Size(f * float64(mult)), nil
}

// String prints the size in the largest binary unit that divides it.
func (s Size) String() string {
	for _, u := range []struct {
		name string
		n    int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if s != 0 && int64(s)%u.n == 0 {
			return fmt.Sprintf("%d%s", int64(s)/u.n, u.name)
		}
	}
	return strconv.FormatInt(int64(s), 10)
}

// Duration is a time.Duration written as Go writes it: 500ms, 5s, 1h30m.
type Duration time.Duration

// ParseDuration parses a duration; a bare 0 is accepted, other bare numbers
// are refused because their unit would be a guess.
func ParseDuration(s string) (Duration, error) {
	t := strings.TrimSpace(s)
	if t == "0" {
		return 0, nil
	}
	d, err := time.ParseDuration(t)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration (write e.g. 500ms, 5s, 1m, 1h)", s)
	}
	return Duration(d), nil
}

// D is the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String prints the duration the way people write it: 1h, 30s, 200ms.
func (d Duration) String() string {
	t := time.Duration(d)
	for _, u := range []struct {
		name string
		d    time.Duration
	}{{"h", time.Hour}, {"m", time.Minute}, {"s", time.Second}, {"ms", time.Millisecond}} {
		if t != 0 && t%u.d == 0 {
			return fmt.Sprintf("%d%s", t/u.d, u.name)
		}
	}
	return t.String()
}

// FileMode is a permission mode written in octal, as a string ("0660") so
// that YAML does not read it as decimal.
type FileMode uint32

// ParseFileMode parses an octal mode such as "0660".
func ParseFileMode(s string) (FileMode, error) {
	n, err := strconv.ParseUint(strings.TrimSpace(s), 8, 32)
	if err != nil || n > 0o7777 {
		return 0, fmt.Errorf("%q is not an octal file mode (write e.g. \"0660\")", s)
	}
	return FileMode(n), nil
}

func (m FileMode) String() string { return fmt.Sprintf("%04o", uint32(m)) }
