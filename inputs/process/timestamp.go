package process

import (
	"fmt"
	"strings"
	"time"
	_ "time/tzdata" // time zones resolve the same on every host, distroless images included
)

// TimestampConfig takes the record's time from a field.
type TimestampConfig struct {
	Common  `koanf:",squash"`
	OnError `koanf:",squash"`
	Field   string `koanf:"field"`
	// Layouts are tried in order: rfc3339 (also with a space for T, and
	// without a zone), epoch_s, epoch_ms, epoch_us, epoch_ns (integer or
	// decimal), common_log (02/Jan/2006:15:04:05 -0700), syslog (Jan _2
	// 15:04:05, the year from the record's time), rfc1123, rfc1123z,
	// rfc822z, ansic, unix_date, or a Go layout (2006-01-02 15:04:05 ...).
	Layouts []string `koanf:"layouts"`
	// Timezone is the zone of times written without one (an IANA name,
	// e.g. Europe/Berlin, or UTC).
	Timezone string `koanf:"timezone"`
	// Remove deletes the field once parsed.
	Remove bool `koanf:"remove"`
}

func (c *TimestampConfig) typeName() string { return "timestamp" }

type layoutKind uint8

const (
	layoutISO layoutKind = iota
	layoutEpoch
	layoutCommonLog
	layoutSyslog
	layoutGo
)

type layout struct {
	kind layoutKind
	unit int64  // epoch
	goL  string // Go layout
}

var namedLayouts = map[string]layout{
	"rfc3339":    {kind: layoutISO},
	"iso8601":    {kind: layoutISO},
	"epoch_s":    {kind: layoutEpoch, unit: 1e9},
	"epoch_ms":   {kind: layoutEpoch, unit: 1e6},
	"epoch_us":   {kind: layoutEpoch, unit: 1e3},
	"epoch_ns":   {kind: layoutEpoch, unit: 1},
	"common_log": {kind: layoutCommonLog},
	"syslog":     {kind: layoutSyslog},
	"rfc1123":    {kind: layoutGo, goL: time.RFC1123},
	"rfc1123z":   {kind: layoutGo, goL: time.RFC1123Z},
	"rfc822z":    {kind: layoutGo, goL: time.RFC822Z},
	"ansic":      {kind: layoutGo, goL: time.ANSIC},
	"unix_date":  {kind: layoutGo, goL: time.UnixDate},
}

func parseLayout(s string) (layout, error) {
	if l, ok := namedLayouts[s]; ok {
		return l, nil
	}
	// A Go layout must print another time than the reference one
	// differently from itself, and read that back: text without any layout
	// element is refused.
	text := time.Date(2009, 11, 10, 23, 31, 47, 0, time.UTC).Format(s)
	if text == s || !strings.ContainsAny(s, "0123456789") {
		return layout{}, fmt.Errorf("%q is neither a layout name nor a Go layout (like 2006-01-02 15:04:05)", s)
	}
	if _, err := time.Parse(s, text); err != nil {
		return layout{}, fmt.Errorf("%q: Go layout that cannot read its own output: %v", s, err)
	}
	return layout{kind: layoutGo, goL: s}, nil
}

// Validate checks the keys.
func (c *TimestampConfig) Validate() error {
	var errs errorList
	c.OnError.validate(&errs)
	if c.Field == "" {
		errs.add("field", "needed: the field that holds the time")
	}
	if len(c.Layouts) == 0 {
		errs.add("layouts", "needed")
	}
	for i, l := range c.Layouts {
		if _, err := parseLayout(l); err != nil {
			errs.add(fmt.Sprintf("layouts[%d]", i), err.Error())
		}
	}
	if _, err := time.LoadLocation(c.Timezone); err != nil {
		errs.add("timezone", fmt.Sprintf("%q: %v", c.Timezone, err))
	}
	validateCommon(&c.Common, &errs)
	return errs.err()
}

type timestampStep struct {
	p       parseStep
	layouts []layout
	loc     *time.Location
}

func (c *TimestampConfig) build(b *builder) step {
	s := &timestampStep{p: b.parseStep(c.Field, c.Remove, c.OnError)}
	s.loc, _ = time.LoadLocation(c.Timezone)
	for _, l := range c.Layouts {
		ly, _ := parseLayout(l)
		s.layouts = append(s.layouts, ly)
	}
	if c.Remove {
		b.flow.remove(c.Field)
	}
	return s
}

func (s *timestampStep) run(rn *Runner, ls *localStats, r *Record) Reason {
	v, ok := s.p.input(r)
	if !ok {
		return s.p.failed(ls, r, "field missing", -1)
	}
	ts, ok := s.parse(v, r.Time)
	if !ok {
		return s.p.failed(ls, r, "no layout matches", -1)
	}
	r.Time = ts
	s.p.parsed(r)
	return ReasonNone
}

// parse tries the layouts in order; ref is the record's time so far.
func (s *timestampStep) parse(v []byte, ref int64) (int64, bool) {
	for _, l := range s.layouts {
		var ts int64
		var ok bool
		switch l.kind {
		case layoutISO:
			ts, ok = parseISO(v, s.loc)
		case layoutEpoch:
			ts, ok = parseEpoch(v, l.unit)
		case layoutCommonLog:
			ts, ok = parseCommonLog(v)
		case layoutSyslog:
			ts, ok = parseSyslog(v, ref, s.loc)
		case layoutGo:
			// time.Parse allocates only for its error; the value is read
			// in place and the error dropped at once.
			t, err := time.ParseInLocation(l.goL, stringOf(v), s.loc)
			ts, ok = t.UnixNano(), err == nil && t.Year() > 1677 && t.Year() < 2262
		}
		if ok {
			return ts, true
		}
	}
	return 0, false
}
