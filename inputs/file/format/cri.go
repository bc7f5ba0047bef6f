package format

import (
	"bytes"
	"errors"
)

// Stream is the standard stream a container line was written to.
type Stream uint8

// Streams of container runtimes.
const (
	StreamNone Stream = iota
	StreamStdout
	StreamStderr
)

func (s Stream) String() string {
	switch s {
	case StreamStdout:
		return "stdout"
	case StreamStderr:
		return "stderr"
	}
	return ""
}

// Entry is one parsed line of a container log.
type Entry struct {
	Time    int64 // unix nanoseconds; 0 when the line carries none
	Stream  Stream
	Partial bool   // the runtime split a long line: the next entry continues it
	Body    []byte // the message, without its newline
}

var (
	errCRI    = errors.New("not a CRI log line (want <time> <stream> <P|F> <message>)")
	errStream = errors.New("unknown stream (want stdout or stderr)")
)

// ParseCRI parses a line of the CRI logging format that the kubelet writes
// under /var/log/pods: `<RFC 3339 time> <stdout|stderr> <P|F> <message>`.
// Body points into line.
func ParseCRI(line []byte) (Entry, error) {
	var e Entry
	sp := bytes.IndexByte(line, ' ')
	if sp < 0 {
		return e, errCRI
	}
	ts, err := ParseTime(line[:sp])
	if err != nil {
		return e, err
	}
	e.Time = ts
	rest := line[sp+1:]
	sp = bytes.IndexByte(rest, ' ')
	if sp < 0 {
		return e, errCRI
	}
	if e.Stream, err = parseStream(rest[:sp]); err != nil {
		return e, err
	}
	rest = rest[sp+1:]
	// The tag is P or F, possibly followed by more ':'-separated tags.
	sp = bytes.IndexByte(rest, ' ')
	tag := rest
	if sp >= 0 {
		tag = rest[:sp]
		rest = rest[sp+1:]
	} else {
		rest = rest[len(rest):]
	}
	if len(tag) == 0 {
		return e, errCRI
	}
	switch tag[0] {
	case 'P':
		e.Partial = true
	case 'F':
	default:
		return e, errCRI
	}
	if len(tag) > 1 && tag[1] != ':' {
		return e, errCRI
	}
	e.Body = rest
	return e, nil
}

func parseStream(b []byte) (Stream, error) {
	switch string(b) { // no allocation: the compiler compares in place
	case "stdout":
		return StreamStdout, nil
	case "stderr":
		return StreamStderr, nil
	}
	return StreamNone, errStream
}
