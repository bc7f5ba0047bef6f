package syslog

import "time"

// digits reads n decimal digits at b[0:n].
func digits(b []byte, n int) (int, bool) {
	if len(b) < n {
		return 0, false
	}
	v := 0
	for _, c := range b[:n] {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, true
}

// parseRFC3339 reads an RFC 5424 TIMESTAMP (RFC 3339 with at most six
// fraction digits in the RFC, more accepted) and returns unix nanoseconds.
func parseRFC3339(b []byte) (int64, bool) {
	if len(b) < 20 || b[4] != '-' || b[7] != '-' || (b[10] != 'T' && b[10] != 't') || b[13] != ':' || b[16] != ':' {
		return 0, false
	}
	year, ok1 := digits(b, 4)
	mon, ok2 := digits(b[5:], 2)
	day, ok3 := digits(b[8:], 2)
	hh, ok4 := digits(b[11:], 2)
	mm, ok5 := digits(b[14:], 2)
	ss, ok6 := digits(b[17:], 2)
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || mon < 1 || mon > 12 || day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60 {
		return 0, false
	}
	b = b[19:]
	nsec := 0
	if b[0] == '.' {
		i := 1
		scale := 100_000_000
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			nsec += int(b[i]-'0') * scale
			scale /= 10
			i++
		}
		if i == 1 {
			return 0, false
		}
		b = b[i:]
	}
	offset := 0
	switch {
	case len(b) == 1 && (b[0] == 'Z' || b[0] == 'z'):
	case len(b) == 6 && (b[0] == '+' || b[0] == '-') && b[3] == ':':
		oh, ok1 := digits(b[1:], 2)
		om, ok2 := digits(b[4:], 2)
		if !ok1 || !ok2 || oh > 23 || om > 59 {
			return 0, false
		}
		offset = oh*3600 + om*60
		if b[0] == '-' {
			offset = -offset
		}
	default:
		return 0, false
	}
	t := time.Date(year, time.Month(mon), day, hh, mm, ss, nsec, time.UTC)
	return t.UnixNano() - int64(offset)*int64(time.Second), true
}

var months = [12]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}

// parseBSDTime reads an RFC 3164 TIMESTAMP, "Mmm dd hh:mm:ss" (15 bytes,
// the day padded with a space or, as some senders do, a zero). The year is
// the one that puts the time nearest to now: December logs read in January
// belong to last year.
func parseBSDTime(b []byte, now time.Time, loc *time.Location) (int64, bool) {
	if len(b) < 15 || b[3] != ' ' || b[6] != ' ' || b[9] != ':' || b[12] != ':' {
		return 0, false
	}
	mon := 0
	for i, m := range months {
		if string(b[:3]) == m {
			mon = i + 1
			break
		}
	}
	d := b[4:6]
	if d[0] == ' ' {
		d = d[1:]
	}
	day, ok1 := digits(d, len(d))
	hh, ok2 := digits(b[7:], 2)
	mm, ok3 := digits(b[10:], 2)
	ss, ok4 := digits(b[13:], 2)
	if mon == 0 || !(ok1 && ok2 && ok3 && ok4) || day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60 {
		return 0, false
	}
	now = now.In(loc)
	year := now.Year()
	t := time.Date(year, time.Month(mon), day, hh, mm, ss, 0, loc)
	if t.Sub(now) > 30*24*time.Hour {
		t = time.Date(year-1, time.Month(mon), day, hh, mm, ss, 0, loc)
	} else if now.Sub(t) > 335*24*time.Hour {
		t = time.Date(year+1, time.Month(mon), day, hh, mm, ss, 0, loc)
	}
	return t.UnixNano(), true
}
