package syslog

import (
	"bytes"
	"time"
)

// Parser parses syslog messages, reusing its scratch space: one per
// goroutine. The zero value reads RFC 3164 times in the local time zone.
type Parser struct {
	// Location is the time zone of RFC 3164 timestamps, which carry none;
	// nil means time.Local.
	Location *time.Location

	scratch []byte // unescaped structured-data values
	sd      []SDParam
}

// Parse reads either format: RFC 5424 when the PRI is followed by the
// version "1 ", RFC 3164 otherwise. now dates RFC 3164 timestamps, which
// have no year.
func (p *Parser) Parse(b []byte, now time.Time, m *Message) error {
	m.reset(p.sd)
	rest, err := parsePRI(b, m)
	if err != nil {
		return err
	}
	if len(rest) >= 2 && rest[0] == '1' && rest[1] == ' ' {
		return p.parse5424(rest, m)
	}
	return p.parse3164(rest, now, m)
}

// ParseRFC5424 reads an RFC 5424 message.
func (p *Parser) ParseRFC5424(b []byte, m *Message) error {
	m.reset(p.sd)
	rest, err := parsePRI(b, m)
	if err != nil {
		return err
	}
	return p.parse5424(rest, m)
}

// ParseRFC3164 reads an RFC 3164 (BSD) message, dated with now's year.
func (p *Parser) ParseRFC3164(b []byte, now time.Time, m *Message) error {
	m.reset(p.sd)
	rest, err := parsePRI(b, m)
	if err != nil {
		return err
	}
	return p.parse3164(rest, now, m)
}

// token splits b at the first space; ok is false when there is none.
func token(b []byte) (tok, rest []byte, ok bool) {
	i := bytes.IndexByte(b, ' ')
	if i < 0 {
		return b, nil, false
	}
	return b[:i], b[i+1:], true
}

// field reads one RFC 5424 header field: printable ASCII, "-" for none.
func field(b []byte, maxLen int) (f, rest []byte, err error) {
	f, rest, ok := token(b)
	if !ok || len(f) == 0 || len(f) > maxLen {
		return nil, b, ErrHeader
	}
	for _, c := range f {
		if c < 33 || c > 126 {
			return nil, b, ErrHeader
		}
	}
	if len(f) == 1 && f[0] == '-' {
		f = nil
	}
	return f, rest, nil
}

var bom = []byte("\xef\xbb\xbf")

func (p *Parser) parse5424(b []byte, m *Message) error {
	if len(b) < 2 || b[0] != '1' || b[1] != ' ' {
		return ErrVersion
	}
	m.Version = 1
	b = b[2:]
	ts, rest, ok := token(b)
	if !ok {
		return ErrHeader
	}
	if !(len(ts) == 1 && ts[0] == '-') {
		if m.Timestamp, ok = parseRFC3339(ts); !ok {
			return ErrTimestamp
		}
	}
	var err error
	if m.Hostname, rest, err = field(rest, 255); err != nil {
		return err
	}
	if m.AppName, rest, err = field(rest, 48); err != nil {
		return err
	}
	if m.ProcID, rest, err = field(rest, 128); err != nil {
		return err
	}
	if m.MsgID, rest, err = field(rest, 32); err != nil {
		return err
	}
	if rest, err = p.parseSD(rest, m); err != nil {
		return err
	}
	switch {
	case len(rest) == 0:
	case rest[0] == ' ':
		m.Msg = bytes.TrimPrefix(rest[1:], bom)
	default:
		return ErrSD
	}
	return nil
}

// sdName reads an SD-ID or PARAM-NAME: printable ASCII but '=', ' ', ']'
// and '"', at most 32 bytes.
func sdName(b []byte) (name, rest []byte) {
	i := 0
	for i < len(b) && i < 32 {
		c := b[i]
		if c < 33 || c > 126 || c == '=' || c == ']' || c == '"' {
			break
		}
		i++
	}
	return b[:i], b[i:]
}

func (p *Parser) parseSD(b []byte, m *Message) ([]byte, error) {
	if len(b) == 0 {
		return nil, ErrSD
	}
	if b[0] == '-' {
		return b[1:], nil
	}
	// Unescaped values are never longer than the input: size the scratch
	// once so that slices into it stay valid.
	if cap(p.scratch) < len(b) {
		p.scratch = make([]byte, 0, len(b))
	}
	p.scratch = p.scratch[:0]
	for len(b) > 0 && b[0] == '[' {
		id, rest := sdName(b[1:])
		if len(id) == 0 {
			return nil, ErrSD
		}
		params := 0
		for len(rest) > 0 && rest[0] == ' ' {
			var name []byte
			name, rest = sdName(rest[1:])
			if len(name) == 0 || len(rest) < 2 || rest[0] != '=' || rest[1] != '"' {
				return nil, ErrSD
			}
			var value []byte
			var ok bool
			if value, rest, ok = p.sdValue(rest[2:]); !ok {
				return nil, ErrSD
			}
			m.SD = append(m.SD, SDParam{ID: id, Name: name, Value: value})
			params++
		}
		if len(rest) == 0 || rest[0] != ']' {
			return nil, ErrSD
		}
		if params == 0 {
			m.SD = append(m.SD, SDParam{ID: id})
		}
		b = rest[1:]
	}
	p.sd = m.SD[:0]
	return b, nil
}

// sdValue reads a PARAM-VALUE up to its closing quote. Without escapes, the
// common case, the value is a slice of the input; with them, it is
// unescaped into the scratch space.
func (p *Parser) sdValue(b []byte) (value, rest []byte, ok bool) {
	q := bytes.IndexByte(b, '"')
	if q < 0 {
		return nil, nil, false
	}
	if bytes.IndexByte(b[:q], '\\') < 0 {
		return b[:q], b[q+1:], true
	}
	start := len(p.scratch)
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c == '\\' && i+1 < len(b) && (b[i+1] == '"' || b[i+1] == '\\' || b[i+1] == ']') {
			p.scratch = append(p.scratch, b[i+1])
			i++
			continue
		}
		if c == '"' {
			return p.scratch[start:len(p.scratch):len(p.scratch)], b[i+1:], true
		}
		p.scratch = append(p.scratch, c)
	}
	return nil, nil, false
}

func (p *Parser) parse3164(b []byte, now time.Time, m *Message) error {
	loc := p.Location
	if loc == nil {
		loc = time.Local
	}
	var rest []byte
	switch {
	case len(b) >= 16 && b[15] == ' ':
		ts, ok := parseBSDTime(b[:15], now, loc)
		if !ok {
			m.Msg = b
			return nil
		}
		m.Timestamp, rest = ts, b[16:]
	case len(b) > 0 && b[0] >= '0' && b[0] <= '9':
		// rsyslog's forwarding format puts an RFC 3339 time here.
		tok, r, ok := token(b)
		ts, ok2 := parseRFC3339(tok)
		if !ok || !ok2 {
			m.Msg = b
			return nil
		}
		m.Timestamp, rest = ts, r
	default:
		// No timestamp: RFC 3164 4.3.3 takes the whole rest as the message.
		m.Msg = b
		return nil
	}
	tok, after, ok := token(rest)
	if !ok {
		if app, pid, ok := tag(tok); ok {
			m.AppName, m.ProcID = app, pid
			return nil
		}
		m.Msg = rest
		return nil
	}
	if app, pid, ok := tag(tok); ok {
		// Local senders (logger -u, /dev/log) omit the hostname.
		m.AppName, m.ProcID, m.Msg = app, pid, after
		return nil
	}
	if !printable(tok) {
		m.Msg = rest
		return nil
	}
	m.Hostname = tok
	tok2, after2, ok := token(after)
	if app, pid, isTag := tag(tok2); isTag {
		m.AppName, m.ProcID = app, pid
		if ok {
			m.Msg = after2
		}
		return nil
	}
	m.Msg = after
	return nil
}

// tag reads "app:" or "app[pid]:" (RFC 3164 TAG and CONTENT's start).
func tag(b []byte) (app, pid []byte, ok bool) {
	if len(b) < 2 || len(b) > 129 || b[len(b)-1] != ':' {
		return nil, nil, false
	}
	b = b[:len(b)-1]
	if b[len(b)-1] == ']' {
		i := bytes.IndexByte(b, '[')
		if i <= 0 {
			return nil, nil, false
		}
		app, pid = b[:i], b[i+1:len(b)-1]
	} else {
		app = b
	}
	if !printable(app) || !printable(pid) {
		return nil, nil, false
	}
	return app, pid, true
}

func printable(b []byte) bool {
	for _, c := range b {
		if c < 33 || c > 126 {
			return false
		}
	}
	return true
}
