package otlp

import "github.com/capstan-agent/capstan/spool/batch"

// Severity numbers of the OpenTelemetry log data model.
const (
	sevTrace = 1
	sevDebug = 5
	sevInfo  = 9
	sevInfo2 = 10
	sevWarn  = 13
	sevError = 17
	sevErr2  = 18
	sevFatal = 21
	sevFat2  = 22
)

// severityNames maps level words, as syslog (the socket inputs' severity
// attribute), logging libraries and parsed level fields spell them, to
// severity numbers: the data model's own names, and syslog's mapped as its
// appendix does for debug to critical, with alert as FATAL and emergency
// one above it so that syslog's order is kept. Matching ignores case.
var severityNames = map[string]int32{
	"trace": sevTrace, "debug": sevDebug, "dbug": sevDebug,
	"info": sevInfo, "information": sevInfo, "informational": sevInfo,
	"notice": sevInfo2,
	"warn":   sevWarn, "warning": sevWarn,
	"error": sevError, "err": sevError, "eror": sevError,
	"crit": sevErr2, "critical": sevErr2,
	"alert": sevFatal, "fatal": sevFatal, "panic": sevFatal, "dpanic": sevFatal,
	"emerg": sevFat2, "emergency": sevFat2,
}

// maxSeverityName is the longest key of severityNames.
const maxSeverityName = len("informational")

// severityOf is the severity number of a level value: a word of
// severityNames, or a number as pino and bunyan write levels (10 trace, 20
// debug, 30 info, 40 warn, 50 error, 60 fatal). 0 (unspecified) otherwise.
func severityOf(a batch.Attr) int32 {
	if a.Kind == batch.KindInt {
		n, ok := a.Int()
		if !ok || n%10 != 0 || n < 10 || n > 60 {
			return 0
		}
		return [...]int32{sevTrace, sevDebug, sevInfo, sevWarn, sevError, sevFatal}[n/10-1]
	}
	if a.Kind != batch.KindString || len(a.Value) == 0 || len(a.Value) > maxSeverityName {
		return 0
	}
	var low [maxSeverityName]byte
	for i, c := range a.Value {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		low[i] = c
	}
	return severityNames[string(low[:len(a.Value)])] // the conversion in a lookup does not allocate
}
