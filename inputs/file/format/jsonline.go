package format

// JSONTime returns the time a JSON log line states in a top-level string
// field "time", "timestamp", "@timestamp" or "ts" (RFC 3339), or 0. It scans
// the object without building it and never allocates.
func JSONTime(line []byte) int64 {
	p := parser{b: line}
	p.ws()
	if !p.eat('{') {
		return 0
	}
	for {
		p.ws()
		key, ok := p.rawString()
		if !ok {
			return 0
		}
		p.ws()
		if !p.eat(':') {
			return 0
		}
		p.ws()
		switch string(key) {
		case "time", "timestamp", "@timestamp", "ts":
			if p.i < len(p.b) && p.b[p.i] == '"' {
				v, ok := p.rawString()
				if !ok {
					return 0
				}
				if ts, err := ParseTime(v); err == nil {
					return ts
				}
				break
			}
			fallthrough
		default:
			if p.skip(0) != nil {
				return 0
			}
		}
		p.ws()
		if !p.eat(',') {
			return 0
		}
	}
}

// validJSON checks the structure of a JSON value (strings, nesting, commas
// and colons; literals and numbers loosely) several times faster than
// encoding/json.Valid: it only decides whether a line is counted invalid.
func validJSON(line []byte) bool {
	p := parser{b: line}
	p.ws()
	if p.skip(0) != nil {
		return false
	}
	p.ws()
	return p.i == len(p.b)
}
