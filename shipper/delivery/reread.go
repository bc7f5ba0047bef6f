package delivery

import (
	"errors"
	"fmt"
	"io"
	"sync"

	"go.uber.org/zap"

	"github.com/capstan-agent/capstan/spool"
)

// readBufs are the buffers of re-reads (records sent again, split or
// dead-lettered): rare, so pooled rather than kept per worker.
var readBufs = sync.Pool{New: func() any { b := make([]byte, readBytes); return &b }}

// reread calls fn(k, rec) for the record at offs[k] of lane l's partition,
// in order (offs ascending), reading the spool from offs[0]. Records no
// longer in the spool (drop_oldest) are logged and skipped.
func (e *Engine) reread(l *lane, offs []uint64, fn func(k int, rec *Record) error) error {
	if len(offs) == 0 {
		return nil
	}
	bp := readBufs.Get().(*[]byte)
	defer readBufs.Put(bp)
	r := l.part.NewReader(offs[0])
	recs := records{key: l.key, damaged: l.recs.damaged}
	k := 0
	missing := 0
	for k < len(offs) {
		rg, err := r.Next(readBytes)
		var gap *spool.GapError
		var corrupt *spool.CorruptionError
		switch {
		case errors.Is(err, spool.ErrNoData):
			missing += len(offs) - k
			k = len(offs)
			continue
		case errors.As(err, &gap), errors.As(err, &corrupt):
			continue
		case err != nil:
			return fmt.Errorf("re-read %s at %d: %w", l.key, offs[k], err)
		}
		buf := (*bp)[:0]
		if int64(cap(buf)) < rg.Len {
			buf = make([]byte, rg.Len)
			*bp = buf
		}
		buf = buf[:rg.Len]
		if _, err := rg.File.ReadAt(buf, rg.Pos); err != nil && err != io.EOF {
			return fmt.Errorf("re-read %s at %d: %w", l.key, offs[k], err)
		}
		recs.reset(buf, offs[k])
		for rec := recs.next(); rec != nil && k < len(offs); rec = recs.next() {
			for k < len(offs) && offs[k] < rec.Offset {
				missing++ // skipped by the reader: gone or damaged
				k++
			}
			if k < len(offs) && offs[k] == rec.Offset {
				if err := fn(k, rec); err != nil {
					return err
				}
				k++
			}
		}
		for k < len(offs) && offs[k] < rg.Next {
			missing++
			k++
		}
	}
	if missing > 0 {
		e.log.Error("records to send again are no longer in the spool", zap.Stringer("partition", l.key),
			zap.Int("records", missing))
	}
	return nil
}
