package socket

import (
	"errors"
	"time"

	"github.com/capstan-agent/capstan/inputs/socket/syslog"
	"github.com/capstan-agent/capstan/spool/batch"
)

// Attribute names. They are fixed: docs/inputs-socket.md lists them.
var (
	keyPeer        = []byte("peer")
	keyTruncated   = []byte("truncated")
	keySyslogError = []byte("syslog_error")
	keyFacility    = []byte("facility")
	keySeverity    = []byte("severity")
	keyHost        = []byte("host")
	keyApp         = []byte("app")
	keyProcID      = []byte("procid")
	keyMsgID       = []byte("msgid")
	valTrue        = []byte("true")

	facilityValues = names(24, syslog.FacilityName)
	severityValues = names(8, syslog.SeverityName)
	errorValues    = map[error][]byte{
		syslog.ErrPRI:       []byte("bad PRI"),
		syslog.ErrVersion:   []byte("bad version"),
		syslog.ErrTimestamp: []byte("bad timestamp"),
		syslog.ErrHeader:    []byte("bad header"),
		syslog.ErrSD:        []byte("bad structured data"),
	}
	errorOther = []byte("unparsable")
)

func names(n int, name func(int) string) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = []byte(name(i))
	}
	return out
}

// encoder turns framed messages into records: one per connection or
// datagram socket, reusing its parser and attribute space.
type encoder struct {
	format format
	parser syslog.Parser
	msg    syslog.Message
	attrs  []batch.Attr
	keys   []byte // "sd.<id>.<name>" keys
	peer   []byte
}

func newEncoder(f format, loc *time.Location) *encoder {
	return &encoder{format: f, parser: syslog.Parser{Location: loc}}
}

// add appends msg to b and reports whether parsing failed.
func (e *encoder) add(b *batch.Builder, now time.Time, nowNS int64, msg []byte, truncated bool) (failed bool) {
	attrs := e.attrs[:0]
	if len(e.peer) > 0 {
		attrs = append(attrs, batch.Attr{Key: keyPeer, Value: e.peer})
	}
	if truncated {
		attrs = append(attrs, batch.Attr{Key: keyTruncated, Value: valTrue})
	}
	ts, body := nowNS, msg
	if e.format != formatRaw {
		var err error
		switch e.format {
		case formatRFC5424:
			err = e.parser.ParseRFC5424(msg, &e.msg)
		case formatRFC3164:
			err = e.parser.ParseRFC3164(msg, now, &e.msg)
		default:
			err = e.parser.Parse(msg, now, &e.msg)
		}
		if err != nil {
			v, ok := errorValues[errors.Unwrap(err)]
			if !ok {
				v, ok = errorValues[err]
			}
			if !ok {
				v = errorOther
			}
			attrs = append(attrs, batch.Attr{Key: keySyslogError, Value: v})
			failed = true
		} else {
			attrs = e.syslogAttrs(attrs)
			if e.msg.Timestamp != 0 {
				ts = e.msg.Timestamp
			}
			body = e.msg.Msg
		}
	}
	b.AddWithAttrs(ts, body, attrs)
	e.attrs = attrs
	return failed
}

func (e *encoder) syslogAttrs(attrs []batch.Attr) []batch.Attr {
	m := &e.msg
	attrs = append(attrs,
		batch.Attr{Key: keyFacility, Value: facilityValues[m.Facility]},
		batch.Attr{Key: keySeverity, Value: severityValues[m.Severity]})
	for _, f := range [...]struct {
		k, v []byte
	}{{keyHost, m.Hostname}, {keyApp, m.AppName}, {keyProcID, m.ProcID}, {keyMsgID, m.MsgID}} {
		if len(f.v) > 0 {
			attrs = append(attrs, batch.Attr{Key: f.k, Value: f.v})
		}
	}
	if len(m.SD) == 0 {
		return attrs
	}
	// Size the key space first so that slices into it stay valid.
	need := 0
	for _, p := range m.SD {
		need += len("sd..") + len(p.ID) + len(p.Name)
	}
	if cap(e.keys) < need {
		e.keys = make([]byte, 0, need)
	}
	keys := e.keys[:0]
	for _, p := range m.SD {
		start := len(keys)
		keys = append(keys, "sd."...)
		keys = append(keys, p.ID...)
		if len(p.Name) > 0 {
			keys = append(keys, '.')
			keys = append(keys, p.Name...)
		}
		attrs = append(attrs, batch.Attr{Key: keys[start:len(keys):len(keys)], Value: p.Value})
	}
	e.keys = keys
	return attrs
}
