package process

import (
	"time"

	"github.com/capstan-agent/capstan/inputs/internal/civil"
)

// Time parsers for the named layouts, written by hand so that the common
// ones neither allocate nor go through time.Parse's layout interpretation.
// Each returns unix nanoseconds.

// parseISO parses 2006-01-02T15:04:05[.fraction][zone], T or a space
// between date and time, zone Z, ±hh:mm, ±hhmm or ±hh; with no zone the
// time is in loc.
func parseISO(b []byte, loc *time.Location) (int64, bool) {
	if len(b) < 19 || b[4] != '-' || b[7] != '-' || (b[10] != 'T' && b[10] != 't' && b[10] != ' ') ||
		b[13] != ':' || b[16] != ':' {
		return 0, false
	}
	year, ok1 := digits(b[0:4])
	month, ok2 := digits(b[5:7])
	day, ok3 := digits(b[8:10])
	hour, ok4 := digits(b[11:13])
	minute, ok5 := digits(b[14:16])
	sec, ok6 := digits(b[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || !validClock(year, month, day, hour, minute, sec) {
		return 0, false
	}
	nanos, rest, ok := fraction(b[19:])
	if !ok {
		return 0, false
	}
	if len(rest) == 0 {
		return wallTime(year, month, day, hour, minute, sec, nanos, loc), true
	}
	offset, ok := zoneOffset(rest)
	if !ok {
		return 0, false
	}
	return (civil.Days(year, month, day)*86400+hour*3600+minute*60+sec-offset)*1e9 + nanos, true
}

// parseCommonLog parses 02/Jan/2006:15:04:05 -0700 (nginx, Apache).
func parseCommonLog(b []byte) (int64, bool) {
	if len(b) < 26 || b[2] != '/' || b[6] != '/' || b[11] != ':' || b[14] != ':' || b[17] != ':' || b[20] != ' ' {
		return 0, false
	}
	day, ok1 := digits(b[0:2])
	month := monthOf(b[3:6])
	year, ok2 := digits(b[7:11])
	hour, ok3 := digits(b[12:14])
	minute, ok4 := digits(b[15:17])
	sec, ok5 := digits(b[18:20])
	if !(ok1 && ok2 && ok3 && ok4 && ok5) || month == 0 || !validClock(year, month, day, hour, minute, sec) {
		return 0, false
	}
	offset, ok := zoneOffset(b[21:])
	if !ok {
		return 0, false
	}
	return (civil.Days(year, month, day)*86400 + hour*3600 + minute*60 + sec - offset) * 1e9, true
}

// parseSyslog parses Jan _2 15:04:05[.fraction] (RFC 3164), which has no
// year: it is the year of ref (the record's time as the input set it) or,
// for a date more than a month after ref, the year before. Decided here,
// once, it is the same in every replay.
func parseSyslog(b []byte, ref int64, loc *time.Location) (int64, bool) {
	if len(b) < 15 || b[3] != ' ' || b[6] != ' ' || b[9] != ':' || b[12] != ':' {
		return 0, false
	}
	month := monthOf(b[0:3])
	dayText := b[4:6]
	if dayText[0] == ' ' {
		dayText = dayText[1:]
	}
	day, ok1 := digits(dayText)
	hour, ok2 := digits(b[7:9])
	minute, ok3 := digits(b[10:12])
	sec, ok4 := digits(b[13:15])
	if !(ok1 && ok2 && ok3 && ok4) || month == 0 {
		return 0, false
	}
	nanos, rest, ok := fraction(b[15:])
	if !ok || len(rest) != 0 {
		return 0, false
	}
	year := int64(time.Unix(0, ref).In(loc).Year())
	if !validClock(year, month, day, hour, minute, sec) ||
		wallTime(year, month, day, hour, minute, sec, nanos, loc)-ref > 31*24*int64(time.Hour) {
		year--
	}
	if !validClock(year, month, day, hour, minute, sec) {
		return 0, false
	}
	return wallTime(year, month, day, hour, minute, sec, nanos, loc), true
}

// parseEpoch parses an integer or decimal number of units (1e9 for
// seconds ... 1 for nanoseconds) since 1970; digits past a nanosecond are
// cut.
func parseEpoch(b []byte, unit int64) (int64, bool) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	i := 0
	var whole int64
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		if whole > (1<<63-1)/10/unit {
			return 0, false
		}
		whole = whole*10 + int64(b[i]-'0')
	}
	if i == 0 {
		return 0, false
	}
	ns := whole * unit
	if ns < 0 {
		return 0, false
	}
	if i < len(b) {
		if b[i] != '.' || i+1 == len(b) {
			return 0, false
		}
		scale := unit / 10
		for i++; i < len(b); i++ {
			c := b[i]
			if c < '0' || c > '9' {
				return 0, false
			}
			ns += int64(c-'0') * scale
			scale /= 10
		}
		if ns < 0 {
			return 0, false
		}
	}
	if neg {
		ns = -ns
	}
	return ns, true
}

// fraction reads an optional .ddd (or ,ddd) into nanoseconds.
func fraction(b []byte) (int64, []byte, bool) {
	if len(b) == 0 || (b[0] != '.' && b[0] != ',') {
		return 0, b, true
	}
	var nanos int64
	scale := int64(100_000_000)
	i := 1
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		nanos += int64(b[i]-'0') * scale
		scale /= 10
	}
	if i == 1 {
		return 0, b, false
	}
	return nanos, b[i:], true
}

// zoneOffset reads Z, ±hh:mm, ±hhmm or ±hh into seconds east of UTC.
func zoneOffset(b []byte) (int64, bool) {
	if len(b) == 1 && (b[0] == 'Z' || b[0] == 'z') {
		return 0, true
	}
	if len(b) < 3 || (b[0] != '+' && b[0] != '-') {
		return 0, false
	}
	var hh, mm int64
	var ok1, ok2 bool
	switch len(b) {
	case 3:
		hh, ok1 = digits(b[1:3])
		ok2 = true
	case 5:
		hh, ok1 = digits(b[1:3])
		mm, ok2 = digits(b[3:5])
	case 6:
		if b[3] != ':' {
			return 0, false
		}
		hh, ok1 = digits(b[1:3])
		mm, ok2 = digits(b[4:6])
	default:
		return 0, false
	}
	if !ok1 || !ok2 || hh > 23 || mm > 59 {
		return 0, false
	}
	off := (hh*60 + mm) * 60
	if b[0] == '-' {
		off = -off
	}
	return off, true
}

func validClock(year, month, day, hour, minute, sec int64) bool {
	return month >= 1 && month <= 12 && day >= 1 && day <= civil.DaysIn(month, year) &&
		hour <= 23 && minute <= 59 && sec <= 60
}

// civil is the unix time of a wall-clock time in loc.
func wallTime(year, month, day, hour, minute, sec, nanos int64, loc *time.Location) int64 {
	if loc == time.UTC {
		return (civil.Days(year, month, day)*86400+hour*3600+minute*60+sec)*1e9 + nanos
	}
	return time.Date(int(year), time.Month(month), int(day), int(hour), int(minute), int(sec), int(nanos), loc).UnixNano()
}

var months = [12]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}

func monthOf(b []byte) int64 {
	for i, m := range months {
		if string(b) == m {
			return int64(i + 1)
		}
	}
	return 0
}

func digits(b []byte) (int64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}
