package process

import (
	"testing"
	"time"
)

const nginxPattern = `^(?P<remote>\S+) \S+ (?P<user>\S+) \[(?P<time>[^\]]+)\] "(?P<method>\S+) (?P<path>\S+) (?P<proto>[^"]+)" (?P<status>\d{3}) (?P<bytes>\d+|-)(?: "(?P<referer>[^"]*)" "(?P<agent>[^"]*)")?`

func TestRegex(t *testing.T) {
	nginx := "- type: regex\n  pattern: '" + nginxPattern + "'\n  types: {status: int, bytes: int}\n"
	line := `203.0.113.9 - - [01/May/2026:10:00:00 +0000] "GET /healthz HTTP/1.1" 200 - "-" "kube-probe/1.30"`
	runCases(t, []procCase{
		{name: "nginx access log", chain: nginx, in: in{body: line},
			want: out{body: str(line), fields: []string{"remote=string:203.0.113.9", "user=string:-",
				"time=string:01/May/2026:10:00:00 +0000", "method=string:GET", "path=string:/healthz",
				"proto=string:HTTP/1.1", "status=int:200", "bytes=string:-", "referer=string:-", "agent=string:kube-probe/1.30"}}},
		{name: "a group that did not take part is not set", chain: nginx,
			in: in{body: `1.2.3.4 - - [x] "GET / HTTP/1.0" 404 12`},
			want: out{fields: []string{"remote=string:1.2.3.4", "user=string:-", "time=string:x", "method=string:GET",
				"path=string:/", "proto=string:HTTP/1.0", "status=int:404", "bytes=int:12"}}},
		{name: "no match is flagged", chain: nginx, in: in{body: "garbage"},
			want: out{fields: []string{"capstan.parse_error=string:processors[0] regex: no match"}}},
		{name: "target and a field", chain: "- type: regex\n  field: msg\n  target: m\n  pattern: '(?P<k>\\w+)=(?P<v>\\d+)'\n  types: {v: float}\n",
			opts: Options{InputFields: []string{"msg"}},
			in:   in{fields: fields("msg", "took=0012")},
			want: out{fields: []string{"msg=string:took=0012", "m.k=string:took", "m.v=float:12"}}},
		{name: "types convert to canonical text", chain: "- type: regex\n  pattern: '(?P<a>\\S+) (?P<b>\\S+) (?P<c>\\S+) (?P<d>\\S+)'\n  types: {a: int, b: int, c: bool, d: float}\n",
			in:   in{body: "+007 -0 yes 1.50"},
			want: out{fields: []string{"a=int:7", "b=int:0", "c=bool:true", "d=float:1.5"}}},
		{name: "invalid UTF-8 matches byte-wise", chain: "- type: regex\n  pattern: '^(?P<all>.*)$'\n",
			in:   in{body: "a\xffb"},
			want: out{fields: []string{"all=string:a\xffb"}}},
	})
}

func TestLogfmt(t *testing.T) {
	runCases(t, []procCase{
		{name: "pairs", chain: "- type: logfmt\n",
			in: in{body: `level=info msg="hello \"world\"\n" took=12ms ok path=/a=b  esc="\u00e9\x"`},
			want: out{fields: []string{"level=string:info", "msg=string:hello \"world\"\n", "took=string:12ms",
				"ok=bool:true", "path=string:/a=b", "esc=string:éx"}}},
		{name: "types and target", chain: "- type: logfmt\n  target: l\n  types: {n: int, ok: bool}\n",
			in:   in{body: `n=5 ok=false x=1`},
			want: out{fields: []string{"l.n=int:5", "l.ok=bool:false", "l.x=string:1"}}},
		{name: "empty value", chain: "- type: logfmt\n", in: in{body: `a= b=""`},
			want: out{fields: []string{"a=string:", "b=string:"}}},
		{name: "unterminated quote", chain: "- type: logfmt\n", in: in{body: `a="x`, fields: fields("k", "v")},
			opts: Options{InputFields: []string{"k"}},
			want: out{fields: []string{"k=string:v", "capstan.parse_error=string:processors[0] logfmt: syntax error: unterminated quoted value at byte 4"}}},
		{name: "quote in a key", chain: "- type: logfmt\n", in: in{body: `a"b=1`},
			want: out{fields: []string{"capstan.parse_error=string:processors[0] logfmt: syntax error: quote in a key at byte 1"}}},
		{name: "too many fields", chain: "- type: logfmt\n  max_fields: 1\n", in: in{body: `a=1 b=2`},
			want: out{fields: []string{"capstan.parse_error=string:processors[0] logfmt: too many fields at byte 4"}}},
	})
}

func TestTimestamp(t *testing.T) {
	at := func(s string) int64 {
		ts, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return ts.UnixNano()
	}
	arrival := at("2026-01-03T00:00:00Z")
	ts := func(layouts, extra string) string {
		return "- type: timestamp\n  field: t\n  layouts: " + layouts + "\n" + extra
	}
	opts := Options{InputFields: []string{"t"}}
	cases := []struct {
		name, chain, value string
		want               int64
	}{
		{"rfc3339", ts("[rfc3339]", ""), "2026-05-01T10:00:00.123456789Z", at("2026-05-01T10:00:00.123456789Z")},
		{"rfc3339 offset", ts("[rfc3339]", ""), "2026-05-01T12:00:00+02:00", at("2026-05-01T10:00:00Z")},
		{"rfc3339 compact offset", ts("[rfc3339]", ""), "2026-05-01T12:00:00.5+0200", at("2026-05-01T10:00:00.5Z")},
		{"space and no zone: the timezone", ts("[rfc3339]", "  timezone: Europe/Berlin\n"), "2026-07-01 12:00:00,250", at("2026-07-01T10:00:00.25Z")},
		{"epoch_s decimal", ts("[epoch_s]", ""), "1777629600.123456", at("2026-05-01T10:00:00.123456Z")},
		{"epoch_ms", ts("[epoch_ms]", ""), "1777629600123", at("2026-05-01T10:00:00.123Z")},
		{"epoch_us", ts("[epoch_us]", ""), "1777629600123456", at("2026-05-01T10:00:00.123456Z")},
		{"epoch_ns", ts("[epoch_ns]", ""), "1777629600123456789", at("2026-05-01T10:00:00.123456789Z")},
		{"common_log", ts("[common_log]", ""), "01/May/2026:12:00:00 +0200", at("2026-05-01T10:00:00Z")},
		{"syslog: the arrival's year", ts("[syslog]", ""), "Jan  2 23:00:00", at("2026-01-02T23:00:00Z")},
		{"syslog: December seen in January is last year", ts("[syslog]", ""), "Dec 31 23:59:59", at("2025-12-31T23:59:59Z")},
		{"go layout in a zone", ts("['2006/01/02 15:04']", "  timezone: America/New_York\n"), "2026/05/01 06:00", at("2026-05-01T10:00:00Z")},
		{"rfc1123", ts("[rfc1123]", ""), "Fri, 01 May 2026 10:00:00 UTC", at("2026-05-01T10:00:00Z")},
		{"the first layout that fits", ts("[epoch_ms, rfc3339]", ""), "2026-05-01T10:00:00Z", at("2026-05-01T10:00:00Z")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := chainOf(t, tc.chain, opts)
			r, _ := runOne(c, in{time: arrival, fields: fields("t", tc.value)})
			if r.Time != tc.want {
				t.Fatalf("time %s, want %s (fields %v)", time.Unix(0, r.Time).UTC(), time.Unix(0, tc.want).UTC(), fieldList(r))
			}
		})
	}
	runCases(t, []procCase{
		{name: "no layout fits: flagged, time kept", chain: ts("[rfc3339, epoch_s]", ""), opts: opts,
			in: in{time: arrival, fields: fields("t", "yesterday")},
			want: out{time: arrival, fields: []string{"t=string:yesterday",
				"capstan.parse_error=string:processors[0] timestamp: no layout matches"}}},
		{name: "impossible date", chain: ts("[rfc3339]", ""), opts: opts,
			in:   in{time: arrival, fields: fields("t", "2026-02-30T00:00:00Z")},
			want: out{time: arrival, fields: []string{"t=string:2026-02-30T00:00:00Z", "capstan.parse_error=string:processors[0] timestamp: no layout matches"}}},
		{name: "remove", chain: ts("[epoch_s]", "  remove: true\n"), opts: opts,
			in: in{time: arrival, fields: fields("t", "1")}, want: out{time: 1e9, fields: []string{}}},
		{name: "epoch overflow", chain: ts("[epoch_s]", ""), opts: opts,
			in:   in{time: arrival, fields: fields("t", "99999999999999999999")},
			want: out{time: arrival, fields: []string{"t=string:99999999999999999999", "capstan.parse_error=string:processors[0] timestamp: no layout matches"}}},
	})
}
