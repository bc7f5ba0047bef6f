package kafka

import (
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"
)

// kgoLogger passes franz-go's own warnings and errors (group joins that
// fail, rebalances it gives up on) to the input's logger, under "kgo"; one
// message at most every 30 s, so that a cluster that is down does not flood
// the log (the input's own warnings say so, and its state).
type kgoLogger struct {
	log *zap.Logger

	mu   sync.Mutex
	last map[string]time.Time
}

func newKgoLogger(log *zap.Logger) *kgoLogger {
	return &kgoLogger{log: log.Named("kgo"), last: map[string]time.Time{}}
}

func (l *kgoLogger) Level() kgo.LogLevel { return kgo.LogLevelWarn }

func (l *kgoLogger) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	l.mu.Lock()
	if t, ok := l.last[msg]; ok && time.Since(t) < 30*time.Second {
		l.mu.Unlock()
		return
	}
	l.last[msg] = time.Now()
	l.mu.Unlock()
	fields := make([]zap.Field, 0, len(keyvals)/2)
	for i := 0; i+1 < len(keyvals); i += 2 {
		fields = append(fields, zap.Any("kgo_"+fmt.Sprint(keyvals[i]), keyvals[i+1]))
	}
	if level == kgo.LogLevelError {
		l.log.Error(msg, fields...)
		return
	}
	l.log.Warn(msg, fields...)
}
