// Package civil is the calendar arithmetic the inputs' time parsers share:
// days in a month and days since the epoch of a proleptic Gregorian date,
// without the time package's allocations and error values.
package civil

// DaysIn is the number of days of month (1-12) in year.
func DaysIn(month, year int64) int64 {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// Days is days since 1970-01-01 of the date y-m-d (Howard Hinnant's
// days_from_civil; years before 0 too).
func Days(y, m, d int64) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era--
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}
