package syslog

import "errors"

// Message is a parsed syslog message. Byte slices point into the parsed
// input or into the Parser's scratch space: valid until the next Parse.
type Message struct {
	Facility  int   // 0-23
	Severity  int   // 0-7
	Version   int   // 1 for RFC 5424, 0 for RFC 3164
	Timestamp int64 // unix nanoseconds; 0 when the message has none
	Hostname  []byte
	AppName   []byte
	ProcID    []byte
	MsgID     []byte
	SD        []SDParam // structured data, one entry per parameter
	Msg       []byte
}

// SDParam is one parameter of an RFC 5424 structured data element. An
// element without parameters gives one SDParam with an empty Name.
type SDParam struct {
	ID, Name, Value []byte
}

// Errors a parse returns. They are few and fixed so that callers can turn
// them into attributes without allocating.
var (
	ErrPRI       = errors.New("syslog: bad PRI")
	ErrVersion   = errors.New("syslog: bad version")
	ErrTimestamp = errors.New("syslog: bad timestamp")
	ErrHeader    = errors.New("syslog: bad header")
	ErrSD        = errors.New("syslog: bad structured data")
)

var facilityNames = [24]string{
	"kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news",
	"uucp", "cron", "authpriv", "ftp", "ntp", "security", "console", "solaris-cron",
	"local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
}

var severityNames = [8]string{"emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"}

// FacilityName is the keyword of a facility, as syslog.conf spells it.
func FacilityName(f int) string {
	if f < 0 || f >= len(facilityNames) {
		return ""
	}
	return facilityNames[f]
}

// SeverityName is the keyword of a severity, as syslog.conf spells it.
func SeverityName(s int) string {
	if s < 0 || s >= len(severityNames) {
		return ""
	}
	return severityNames[s]
}

func (m *Message) reset(sd []SDParam) {
	*m = Message{SD: sd[:0]}
}

// parsePRI reads "<N>" with N in 0..191 and returns the rest.
func parsePRI(b []byte, m *Message) ([]byte, error) {
	if len(b) < 3 || b[0] != '<' {
		return b, ErrPRI
	}
	n, i := 0, 1
	for i < len(b) && i <= 4 && b[i] >= '0' && b[i] <= '9' {
		n = n*10 + int(b[i]-'0')
		i++
	}
	if i == 1 || i > 4 || i >= len(b) || b[i] != '>' || n > 191 || (b[1] == '0' && i > 2) {
		return b, ErrPRI
	}
	m.Facility, m.Severity = n>>3, n&7
	return b[i+1:], nil
}
