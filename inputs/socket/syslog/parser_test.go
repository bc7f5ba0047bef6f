package syslog

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// view renders a message for comparison.
func view(m *Message) string {
	var sd []string
	for _, p := range m.SD {
		sd = append(sd, fmt.Sprintf("%s.%s=%s", p.ID, p.Name, p.Value))
	}
	ts := ""
	if m.Timestamp != 0 {
		ts = time.Unix(0, m.Timestamp).UTC().Format(time.RFC3339Nano)
	}
	return fmt.Sprintf("f=%d s=%d v=%d ts=%s host=%s app=%s pid=%s msgid=%s sd=%v msg=%q",
		m.Facility, m.Severity, m.Version, ts, m.Hostname, m.AppName, m.ProcID, m.MsgID, sd, m.Msg)
}

var now = time.Date(2026, 11, 28, 1, 0, 0, 0, time.UTC)

func TestParse5424(t *testing.T) {
	tests := []struct {
		in, want string
		err      error
	}{
		{`<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - BOM'su root' failed`,
			`f=4 s=2 v=1 ts=2003-10-11T22:14:15.003Z host=mymachine.example.com app=su pid= msgid=ID47 sd=[] msg="BOM'su root' failed"`, nil},
		{"<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It's time to make the do-nuts.",
			`f=20 s=5 v=1 ts=2003-08-24T12:14:15.000003Z host=192.0.2.1 app=myproc pid=8710 msgid= sd=[] msg="%% It's time to make the do-nuts."`, nil},
		{`<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"][examplePriority@32473 class="high"]`,
			`f=20 s=5 v=1 ts=2003-10-11T22:14:15.003Z host=mymachine.example.com app=evntslog pid= msgid=ID47 sd=[exampleSDID@32473.iut=3 exampleSDID@32473.eventSource=Application exampleSDID@32473.eventID=1011 examplePriority@32473.class=high] msg=""`, nil},
		{`<13>1 2026-11-28T00:32:15.457091+00:00 vm app2 - - [timeQuality tzKnown="1" isSynced="0"][x@1 a="b\"c\\d\]e\f"] hello5424`,
			`f=1 s=5 v=1 ts=2026-11-28T00:32:15.457091Z host=vm app=app2 pid= msgid= sd=[timeQuality.tzKnown=1 timeQuality.isSynced=0 x@1.a=b"c\d]e\f] msg="hello5424"`, nil},
		{"<13>1 - - - - - [empty]", `f=1 s=5 v=1 ts= host= app= pid= msgid= sd=[empty.=] msg=""`, nil},
		{"<13>1 - - - - - - \xef\xbb\xbfutf8 \xff", `f=1 s=5 v=1 ts= host= app= pid= msgid= sd=[] msg="utf8 \xff"`, nil},
		{"<192>1 - - - - - -", "", ErrPRI},
		{"<013>1 - - - - - -", "", ErrPRI},
		{"13>1 - - - - - -", "", ErrPRI},
		{"<13>1 2026-13-01T00:00:00Z h a p m -", "", ErrTimestamp},
		{"<13>1 2026-11-28T00:00:00 h a p m -", "", ErrTimestamp},
		{"<13>1 - h a p m", "", ErrHeader},
		{"<13>1 - h a p m [x a=b]", "", ErrSD},
		{`<13>1 - h a p m [x a="b]`, "", ErrSD},
		{`<13>1 - h a p m [x a="b"]msg`, "", ErrSD},
	}
	var p Parser
	var m Message
	for _, tt := range tests {
		err := p.ParseRFC5424([]byte(tt.in), &m)
		if !errors.Is(err, tt.err) {
			t.Errorf("%q: err %v, want %v", tt.in, err, tt.err)
			continue
		}
		if err == nil && view(&m) != tt.want {
			t.Errorf("%q:\n got %s\nwant %s", tt.in, view(&m), tt.want)
		}
	}
}

func TestParse3164(t *testing.T) {
	tests := []struct {
		in, want string
		err      error
	}{
		{"<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8",
			`f=4 s=2 v=0 ts=2026-10-11T22:14:15Z host=mymachine app=su pid= msgid= sd=[] msg="'su root' failed for lonvick on /dev/pts/8"`, nil},
		{"<13>Nov 28 00:32:15 vm app3[42]: hi",
			`f=1 s=5 v=0 ts=2026-11-28T00:32:15Z host=vm app=app3 pid=42 msgid= sd=[] msg="hi"`, nil},
		{"<13>Nov 28 00:32:18 loc: hello",
			`f=1 s=5 v=0 ts=2026-11-28T00:32:18Z host= app=loc pid= msgid= sd=[] msg="hello"`, nil},
		{"<13>Dec 31 23:59:59 h app: last year",
			`f=1 s=5 v=0 ts=2025-12-31T23:59:59Z host=h app=app pid= msgid= sd=[] msg="last year"`, nil},
		{"<13>Nov  3 01:02:03 h plain message",
			`f=1 s=5 v=0 ts=2026-11-03T01:02:03Z host=h app= pid= msgid= sd=[] msg="plain message"`, nil},
		{"<13>2026-11-28T00:32:15.453163+00:00 vm myapp: fwd",
			`f=1 s=5 v=0 ts=2026-11-28T00:32:15.453163Z host=vm app=myapp pid= msgid= sd=[] msg="fwd"`, nil},
		{"<13>no timestamp here", `f=1 s=5 v=0 ts= host= app= pid= msgid= sd=[] msg="no timestamp here"`, nil},
		{"<13>Foo 28 00:32:15 vm x: y", `f=1 s=5 v=0 ts= host= app= pid= msgid= sd=[] msg="Foo 28 00:32:15 vm x: y"`, nil},
		{"<0>", `f=0 s=0 v=0 ts= host= app= pid= msgid= sd=[] msg=""`, nil},
		{"hello", "", ErrPRI},
		{"<1000>Nov 28 00:32:15 vm app: x", "", ErrPRI},
	}
	p := Parser{Location: time.UTC}
	var m Message
	for _, tt := range tests {
		err := p.ParseRFC3164([]byte(tt.in), now, &m)
		if !errors.Is(err, tt.err) {
			t.Errorf("%q: err %v, want %v", tt.in, err, tt.err)
			continue
		}
		if err == nil && view(&m) != tt.want {
			t.Errorf("%q:\n got %s\nwant %s", tt.in, view(&m), tt.want)
		}
	}
}

func TestParseAuto(t *testing.T) {
	p := Parser{Location: time.UTC}
	var m Message
	if err := p.Parse([]byte("<13>1 - h a - - - x"), now, &m); err != nil || m.Version != 1 || string(m.Hostname) != "h" {
		t.Fatalf("5424: %v %s", err, view(&m))
	}
	if err := p.Parse([]byte("<13>Nov 28 00:32:18 loc: hello"), now, &m); err != nil || m.Version != 0 || string(m.AppName) != "loc" {
		t.Fatalf("3164: %v %s", err, view(&m))
	}
}

func TestParseAllocatesNothing(t *testing.T) {
	p := Parser{Location: time.UTC}
	var m Message
	in5424 := []byte(`<165>1 2003-10-11T22:14:15.003Z host app - ID47 [a@1 x="1" y="2\"3"][b@2 z="4"] message body`)
	in3164 := []byte("<13>Nov 28 00:32:15 vm app3[42]: hi there")
	allocs := testing.AllocsPerRun(100, func() {
		if err := p.Parse(in5424, now, &m); err != nil {
			t.Fatal(err)
		}
		if err := p.Parse(in3164, now, &m); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per parse", allocs)
	}
}

func TestNames(t *testing.T) {
	if FacilityName(23) != "local7" || SeverityName(7) != "debug" || FacilityName(24) != "" || SeverityName(-1) != "" {
		t.Fatal("names")
	}
}

// checkMessage holds for every successful parse, whatever the input.
func checkMessage(t *testing.T, in []byte, m *Message) {
	if m.Facility < 0 || m.Facility > 23 || m.Severity < 0 || m.Severity > 7 {
		t.Fatalf("%q: facility %d severity %d", in, m.Facility, m.Severity)
	}
	for _, f := range [][]byte{m.Hostname, m.AppName, m.ProcID, m.MsgID} {
		if !printable(f) {
			t.Fatalf("%q: field %q not printable", in, f)
		}
	}
	if len(m.Msg) > len(in) || !strings.Contains(string(in), string(m.Msg)) {
		t.Fatalf("%q: message %q not from the input", in, m.Msg)
	}
}

func FuzzRFC5424(f *testing.F) {
	f.Add([]byte(`<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application"][examplePriority@32473 class="high"] body`))
	f.Add([]byte("<13>1 - - - - - -"))
	f.Add([]byte(`<13>1 2026-11-28T00:32:15.457091+00:00 vm app2 - - [x@1 a="b\"c\\d\]e"] hello`))
	f.Fuzz(func(t *testing.T, in []byte) {
		var p Parser
		var m Message
		if err := p.ParseRFC5424(in, &m); err == nil {
			checkMessage(t, in, &m)
			if m.Version != 1 {
				t.Fatalf("version %d", m.Version)
			}
			for _, sd := range m.SD {
				if len(sd.ID) == 0 || len(sd.Value) > len(in) {
					t.Fatalf("%q: sd %+v", in, sd)
				}
			}
		}
	})
}

func FuzzRFC3164(f *testing.F) {
	f.Add([]byte("<34>Oct 11 22:14:15 mymachine su: 'su root' failed"))
	f.Add([]byte("<13>Nov 28 00:32:18 loc: hello"))
	f.Add([]byte("<13>Nov  3 01:02:03 h app[1]: x"))
	f.Add([]byte("<13>2026-11-28T00:32:15.453163+00:00 vm myapp: fwd"))
	f.Fuzz(func(t *testing.T, in []byte) {
		p := Parser{Location: time.UTC}
		var m Message
		if err := p.ParseRFC3164(in, now, &m); err == nil {
			checkMessage(t, in, &m)
		}
	})
}

func BenchmarkParse(b *testing.B) {
	for _, in := range []struct{ name, msg string }{
		{"rfc5424", `<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog 42 ID47 [exampleSDID@32473 iut="3" eventSource="Application"] An application event log entry of some length`},
		{"rfc3164", `<34>Oct 11 22:14:15 mymachine su[123]: 'su root' failed for lonvick on /dev/pts/8 and some more text`},
	} {
		b.Run(in.name, func(b *testing.B) {
			p := Parser{Location: time.UTC}
			var m Message
			msg := []byte(in.msg)
			b.SetBytes(int64(len(msg)))
			b.ReportAllocs()
			for b.Loop() {
				if err := p.Parse(msg, now, &m); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
