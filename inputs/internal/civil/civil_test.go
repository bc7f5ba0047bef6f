package civil

import (
	"testing"
	"time"
)

// Days and DaysIn agree with the time package on every day of 1600-2400.
func TestAgainstTime(t *testing.T) {
	for d := time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC); d.Year() < 2400; d = d.AddDate(0, 0, 1) {
		y, m := int64(d.Year()), int64(d.Month())
		if got, want := Days(y, m, int64(d.Day())), d.Unix()/86400; got != want {
			t.Fatalf("%s: Days = %d, want %d", d.Format("2006-01-02"), got, want)
		}
		if d.Day() == 1 {
			last := d.AddDate(0, 1, -1).Day()
			if got := DaysIn(m, y); got != int64(last) {
				t.Fatalf("%s: DaysIn = %d, want %d", d.Format("2006-01"), got, last)
			}
		}
	}
}
