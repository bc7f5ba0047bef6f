package format

import (
	"fmt"
	"regexp"
	"time"
)

// Kind names a line format.
type Kind uint8

// Line formats.
const (
	Raw    Kind = iota // the line is the body
	JSON               // the record is the body; its time from a time field (JSONTime); invalid JSON counted, kept, its reason given
	Docker             // Docker json-file: log, stream, time
	CRI                // CRI (kubelet): time stream P|F message
)

// ParseKind maps a configuration value to a Kind.
func ParseKind(s string) (Kind, error) {
	switch s {
	case "", "raw":
		return Raw, nil
	case "json":
		return JSON, nil
	case "docker":
		return Docker, nil
	case "cri":
		return CRI, nil
	}
	return Raw, fmt.Errorf("format %q: want raw, json, docker or cri", s)
}

// Sink receives decoded records. body is valid only during the call.
// invalid is nil, or for the JSON format one of JSONErrors: why the record
// is not JSON (it is kept as it is).
type Sink interface {
	Record(ts int64, stream Stream, body []byte, invalid error)
}

// Options configure a Decoder.
type Options struct {
	Kind     Kind
	MaxBytes int            // longest record body; longer ones are cut and counted
	Start    *regexp.Regexp // multiline: a line matching Start begins a record; nil = off
	// FlushAfter emits a multiline record, or a partial container line, that
	// has had no continuation for this long.
	FlushAfter time.Duration
}

// Decoder turns the lines of one file into records: it parses the format,
// reassembles lines a container runtime split, and groups multiline records.
// It holds at most a few records of MaxBytes, and tells the reader from which
// file offset on it holds lines not yet emitted (Pending), so that positions
// never pass a line that is not in the spool.
type Decoder struct {
	opt     Options
	scratch []byte
	part    [3]event // partial container lines, one per stream
	multi   event
	// Truncated counts records cut at MaxBytes; Invalid counts lines (JSON:
	// records) that did not parse as the format (they are kept whole).
	Truncated, Invalid uint64
}

type event struct {
	buf        []byte
	ts         int64
	stream     Stream
	start, end int64 // file offsets of the first line's start and the last line's end
	touched    int64 // when the last line was added, unix ns
	active     bool
	cut        bool
}

// NewDecoder makes a decoder. Buffers grow on first use only.
func NewDecoder(opt Options) *Decoder {
	if opt.MaxBytes <= 0 {
		opt.MaxBytes = 1 << 20
	}
	return &Decoder{opt: opt}
}

// Line decodes one line (without its newline) that lies at [start, end) in
// the file. now (unix ns) stamps records whose format carries no time.
func (d *Decoder) Line(line []byte, start, end, now int64, s Sink) {
	var e Entry
	var err error
	switch d.opt.Kind {
	case Docker:
		e, d.scratch, err = ParseDocker(line, d.scratch)
	case CRI:
		e, err = ParseCRI(line)
	default: // Raw; JSON is checked as a whole record, in emit
		e.Body = line
	}
	if err != nil {
		d.Invalid++
		e = Entry{Body: line}
	}
	if e.Time == 0 {
		e.Time = now
	}
	p := &d.part[e.Stream]
	if !p.active && !e.Partial {
		d.logical(e.Time, e.Stream, e.Body, start, end, now, s)
		return
	}
	if !p.active {
		p.begin(e.Time, e.Stream, start)
	}
	d.add(p, e.Body, end, now)
	if e.Partial {
		return
	}
	p.active = false
	d.logical(p.ts, p.stream, p.buf, p.start, end, now, s)
}

// keepBytes is the buffer capacity an event keeps between records; a larger
// one (a long record) is let go, so that idle files hold little memory.
const keepBytes = 64 << 10

func (ev *event) begin(ts int64, st Stream, start int64) {
	if cap(ev.buf) > keepBytes {
		ev.buf = nil
	}
	ev.buf = ev.buf[:0]
	ev.ts, ev.stream, ev.start = ts, st, start
	ev.active, ev.cut = true, false
}

// add appends b to ev, up to MaxBytes; the first cut is counted.
func (d *Decoder) add(ev *event, b []byte, end, now int64) {
	if room := d.opt.MaxBytes - len(ev.buf); len(b) > room {
		if room > 0 {
			ev.buf = append(ev.buf, b[:room]...)
		}
		if !ev.cut {
			ev.cut = true
			d.Truncated++
		}
	} else {
		ev.buf = append(ev.buf, b...)
	}
	ev.end, ev.touched = end, now
}

// logical handles a whole line (partials joined): multiline grouping or out.
func (d *Decoder) logical(ts int64, st Stream, body []byte, start, end, now int64, s Sink) {
	if d.opt.Start == nil {
		if len(body) > d.opt.MaxBytes {
			body = body[:d.opt.MaxBytes]
			d.Truncated++
		}
		d.emit(ts, st, body, s)
		return
	}
	m := &d.multi
	if m.active && !d.opt.Start.Match(body) {
		if len(m.buf) < d.opt.MaxBytes {
			m.buf = append(m.buf, '\n')
		}
		d.add(m, body, end, now)
		return
	}
	if m.active {
		m.active = false
		d.emit(m.ts, m.stream, m.buf, s)
	}
	m.begin(ts, st, start)
	d.add(m, body, end, now)
}

// emit hands a whole record to s. A JSON record is checked here, after
// multiline grouping, so that an object spread over lines is one value: its
// time replaces the read time, and its first fault, if any, goes with it.
func (d *Decoder) emit(ts int64, st Stream, body []byte, s Sink) {
	var invalid error
	if d.opt.Kind == JSON {
		t, err := CheckJSON(body)
		if t != 0 {
			ts = t
		}
		if err != nil {
			d.Invalid++
			invalid = err
		}
	}
	s.Record(ts, st, body, invalid)
}

// Pending is the file offset of the first line the decoder holds without
// having emitted it, if any.
func (d *Decoder) Pending() (int64, bool) {
	lo, ok := int64(0), false
	for _, ev := range [...]*event{&d.part[0], &d.part[1], &d.part[2], &d.multi} {
		if ev.active && (!ok || ev.start < lo) {
			lo, ok = ev.start, true
		}
	}
	return lo, ok
}

// FlushIdle emits what has waited longer than FlushAfter, and reports
// whether it emitted anything.
func (d *Decoder) FlushIdle(now int64, s Sink) bool {
	return d.flush(now-int64(d.opt.FlushAfter), s)
}

// Flush emits everything the decoder holds (the file has gone away).
func (d *Decoder) Flush(s Sink) bool { return d.flush(1<<62, s) }

func (d *Decoder) flush(before int64, s Sink) bool {
	did := false
	for i := range d.part {
		p := &d.part[i]
		if p.active && p.touched <= before {
			p.active = false
			d.logical(p.ts, p.stream, p.buf, p.start, p.end, p.touched, s)
			did = true
		}
	}
	if m := &d.multi; m.active && m.touched <= before {
		m.active = false
		d.emit(m.ts, m.stream, m.buf, s)
		did = true
	}
	return did
}

// Reset forgets everything held: the reader rewinds to Pending and reads
// those lines again.
func (d *Decoder) Reset() {
	for i := range d.part {
		d.part[i].active = false
	}
	d.multi.active = false
}
