package format

import (
	"errors"

	"github.com/capstan-agent/capstan/inputs/internal/civil"
)

var errTime = errors.New("bad RFC 3339 timestamp")

// ParseTime parses an RFC 3339 timestamp with optional fraction
// (2006-01-02T15:04:05.999999999Z07:00) into unix nanoseconds without
// allocating, which time.Parse on a converted []byte would do.
func ParseTime(b []byte) (int64, error) {
	secs, nanos, rest, ok := parseDateTime(b)
	if !ok {
		return 0, errTime
	}
	var offset int64
	switch {
	case len(rest) == 1 && (rest[0] == 'Z' || rest[0] == 'z'):
	case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':':
		if offset, ok = zoneOffset(rest[0], rest[1:3], rest[4:6]); !ok {
			return 0, errTime
		}
	default:
		return 0, errTime
	}
	return (secs-offset)*1_000_000_000 + nanos, nil
}

// ParseLogTime parses the timestamps log libraries write into unix
// nanoseconds, without allocating (docs/inputs-file.md, "JSON time"):
//
//   - a date and time, 2006-01-02T15:04:05, with 'T' or a space between
//     them, an optional fraction after '.' or ',', and an optional zone, with
//     or without one space before it: Z, UTC, ±07:00, ±0700 or ±07. No zone
//     means UTC. This covers RFC 3339 (logrus, slog, zerolog, bunyan, pino's
//     ISO option, Serilog), zap's ISO 8601 encoder (±0700) and Python's
//     logging asctime (2006-01-02 15:04:05,000).
//   - a number of seconds, milliseconds, microseconds or nanoseconds since
//     1970, as decimal text: see ParseEpoch.
func ParseLogTime(b []byte) (int64, error) {
	if len(b) > 0 && b[0] >= '0' && b[0] <= '9' && (len(b) < 5 || b[4] != '-') {
		return ParseEpoch(b)
	}
	secs, nanos, rest, ok := parseDateTime(b)
	if !ok {
		return 0, errTime
	}
	if len(rest) > 1 && rest[0] == ' ' {
		rest = rest[1:]
	}
	var offset int64
	switch {
	case len(rest) == 0, len(rest) == 1 && (rest[0] == 'Z' || rest[0] == 'z'), string(rest) == "UTC":
	case len(rest) == 3 && (rest[0] == '+' || rest[0] == '-'):
		offset, ok = zoneOffset(rest[0], rest[1:3], nil)
	case len(rest) == 5 && (rest[0] == '+' || rest[0] == '-'):
		offset, ok = zoneOffset(rest[0], rest[1:3], rest[3:5])
	case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':':
		offset, ok = zoneOffset(rest[0], rest[1:3], rest[4:6])
	default:
		ok = false
	}
	if !ok {
		return 0, errTime
	}
	return (secs-offset)*1_000_000_000 + nanos, nil
}

// parseDateTime parses 2006-01-02T15:04:05 (or 't' or ' ' for 'T') and an
// optional fraction after '.' or ','. It returns the seconds since 1970 of
// that wall time read as UTC, the fraction in nanoseconds, and the rest.
func parseDateTime(b []byte) (secs, nanos int64, rest []byte, ok bool) {
	if len(b) < 19 || b[4] != '-' || b[7] != '-' || (b[10] != 'T' && b[10] != 't' && b[10] != ' ') ||
		b[13] != ':' || b[16] != ':' {
		return 0, 0, nil, false
	}
	year, ok1 := digits(b[0:4])
	month, ok2 := digits(b[5:7])
	day, ok3 := digits(b[8:10])
	hour, ok4 := digits(b[11:13])
	minute, ok5 := digits(b[14:16])
	sec, ok6 := digits(b[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || month < 1 || month > 12 || day < 1 ||
		day > civil.DaysIn(month, year) || hour > 23 || minute > 59 || sec > 60 {
		return 0, 0, nil, false
	}
	rest = b[19:]
	if len(rest) > 0 && (rest[0] == '.' || rest[0] == ',') {
		i := 1
		scale := int64(100_000_000)
		for ; i < len(rest) && rest[i] >= '0' && rest[i] <= '9'; i++ {
			nanos += int64(rest[i]-'0') * scale
			scale /= 10
		}
		if i == 1 {
			return 0, 0, nil, false
		}
		rest = rest[i:]
	}
	secs = civil.Days(year, month, day)*86400 + hour*3600 + minute*60 + sec
	return secs, nanos, rest, true
}

// zoneOffset is the offset in seconds of a zone sign, hours and minutes.
func zoneOffset(sign byte, hh, mm []byte) (int64, bool) {
	oh, ok1 := digits(hh)
	om, ok2 := digits(mm)
	if !ok1 || !ok2 || oh > 23 || om > 59 {
		return 0, false
	}
	offset := (oh*60 + om) * 60
	if sign == '-' {
		offset = -offset
	}
	return offset, true
}

// Epoch magnitudes: an integer part below epochMillis is seconds, below
// epochMicros milliseconds, below epochNanos microseconds, else nanoseconds.
// Each unit thus takes the dates from 1973 on (and seconds those before);
// all end in 2262, where int64 nanoseconds do.
const (
	epochMillis = 100_000_000_000         // 1e11 s = year 5138
	epochMicros = 100_000_000_000_000     // 1e14 ms = year 5138
	epochNanos  = 100_000_000_000_000_000 // 1e17 µs = year 5138
)

var errEpoch = errors.New("bad epoch time")

// ParseEpoch parses a time since 1970 written as a decimal number, with an
// optional fraction and exponent (1700000000, 1700000000.5, 1.7e9,
// 1700000000123, 1700000000123456789). The unit is told by the magnitude of
// the integer part: below 1e11 seconds, below 1e14 milliseconds, below 1e17
// microseconds, else nanoseconds. Negative numbers and times past 2262 (the
// end of int64 nanoseconds) are refused.
func ParseEpoch(b []byte) (int64, error) {
	i := 0
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	intDigits := b[:i]
	var fracDigits []byte
	if i < len(b) && b[i] == '.' {
		i++
		start := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		fracDigits = b[start:i]
		if len(fracDigits) == 0 {
			return 0, errEpoch
		}
	}
	if len(intDigits) == 0 {
		return 0, errEpoch
	}
	exp := 0
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		neg := i < len(b) && b[i] == '-'
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		start := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' && i-start < 3 {
			exp = exp*10 + int(b[i]-'0')
			i++
		}
		if i == start {
			return 0, errEpoch
		}
		if neg {
			exp = -exp
		}
	}
	if i != len(b) {
		return 0, errEpoch
	}
	// The integer and fraction digits are one decimal string; the exponent
	// moves the point, which then sits after point of its digits.
	n := len(intDigits) + len(fracDigits)
	digit := func(k int) uint64 {
		switch {
		case k < 0 || k >= n:
			return 0
		case k < len(intDigits):
			return uint64(intDigits[k] - '0')
		}
		return uint64(fracDigits[k-len(intDigits)] - '0')
	}
	point := len(intDigits) + exp
	var whole uint64
	for k := 0; k < point; k++ {
		if whole >= epochNanos*10 { // past 2262 in any unit
			return 0, errEpoch
		}
		whole = whole*10 + digit(k)
	}
	scale, mult := 9, uint64(1_000_000_000) // digits of the fraction kept; nanoseconds per unit
	switch {
	case whole < epochMillis:
	case whole < epochMicros:
		scale, mult = 6, 1_000_000
	case whole < epochNanos:
		scale, mult = 3, 1_000
	default:
		scale, mult = 0, 1
	}
	var frac uint64
	for k := 0; k < scale; k++ {
		frac = frac*10 + digit(point+k)
	}
	if whole > (1<<63-1-frac)/mult {
		return 0, errEpoch
	}
	return int64(whole*mult + frac), nil
}

func digits(b []byte) (int64, bool) {
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}
