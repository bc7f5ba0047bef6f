package file

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"
	"go.uber.org/zap"

	"github.com/capstan-agent/capstan/inputs/file/format"
	"github.com/capstan-agent/capstan/spool"
	"github.com/capstan-agent/capstan/spool/batch"
)

// Partition is where the input appends a file's batches; *spool.Partition
// satisfies it. Sequence tells how far a producer got, after a crash too.
type Partition interface {
	Append(ctx context.Context, b []byte) (spool.AppendResult, error)
	Sequence(producer uint64) (uint64, bool)
}

// Target is what the input writes to.
type Target struct {
	Partitions    []Partition
	AgentID       [16]byte
	PositionsPath string
	// Attributes are static source attributes every batch carries after
	// the file's own (host.name and the input's attributes).
	Attributes []batch.Attr
}

// SpoolTarget makes the Target of an input named input writing to stream st.
func SpoolTarget(s *spool.Spool, st *spool.Stream, input string) Target {
	parts := st.Partitions()
	t := Target{Partitions: make([]Partition, len(parts)), AgentID: s.AgentID(), PositionsPath: s.PositionsPath(input)}
	for i, p := range parts {
		t.Partitions[i] = p
	}
	return t
}

// Stats are the input's counters, safe to read while it runs.
type Stats struct {
	FilesTracked atomic.Int64  // files known
	FilesOpen    atomic.Int64  // descriptors held
	Scans        atomic.Uint64 // glob walks done (scan_interval, and after create/remove/rename events)
	Records      atomic.Uint64 // records appended (duplicates dropped by the spool included)
	Bytes        atomic.Uint64 // file bytes consumed
	Batches      atomic.Uint64 // batches appended
	Duplicates   atomic.Uint64 // batches the spool already held (re-read after a crash)
	Truncated    atomic.Uint64 // lines or records cut at max_line_bytes
	Invalid      atomic.Uint64 // lines that did not parse as the format (kept raw)
	Truncations  atomic.Uint64 // files truncated in place (copytruncate or not)
	Copies       atomic.Uint64 // copies that continued a truncated file's position
	Released     atomic.Uint64 // files renamed away or deleted, read to their end and let go
	Errors       atomic.Uint64 // read, open and append errors (each logged; an unreadable file once until it changes)
	// FilesUnreadable are tracked files whose last open failed. Each is
	// warned about once, and again only when it changes.
	FilesUnreadable atomic.Int64
	// UnreadBytes are the bytes in tracked files past where the input has
	// read (sum of size − read position), set at every poll and scan; while
	// appends block on a full stream, from a stat of each file every
	// scan_interval.
	UnreadBytes atomic.Int64
}

// Input tails files into the spool. Its state is owned by the goroutine
// that calls Run; nothing else touches it but the unread-bytes sampler,
// which shares only unreadGauge (under its mutex) and the atomic Stats.
type Input struct {
	cfg     Config
	tgt     Target
	log     *zap.Logger
	include []glob
	exclude []glob
	decOpt  format.Options
	stats   Stats
	unread  unreadGauge
	// openFile is os.Open; tests make files unreadable through it (they
	// run as root, whom permissions do not stop).
	openFile func(string) (*os.File, error)

	files   map[fileID]*tracked
	byPath  map[string]*tracked // current path (and symlink target) → file
	order   []*tracked          // files in turn order
	rr      int                 // where the next round starts
	round   uint64
	open    int
	saved   map[fileID]posEntry // positions of files not tracked now
	retired []retiredEntry
	dirty   bool
	watcher *fsnotify.Watcher
	watched map[string]bool
	initial bool
	ctx     context.Context // Run's: appends honour it

	// saveFailed: the last positions write failed. The tick retries it; a
	// batch that would need one first (vouched) goes without, rather than
	// writing again for every batch.
	saveFailed bool

	buf     []byte // the read buffer all files share
	fpBuf   []byte
	cmpBuf  []byte
	bld     batch.Builder
	cur     *tracked // file whose records the builder takes
	started bool     // the builder has been reset for cur
	srcAttr [3][]batch.Attr
	// jsonErrAttr holds the json_error attribute of each reason a JSON
	// record can fail for (format.JSONErrors).
	jsonErrAttr map[error][]batch.Attr
}

// New checks cfg and makes an input; it reads nothing before Run. log is
// expected to name the input already (the agent's carries input and type):
// the input adds no field of its own, so that no key is written twice.
func New(cfg Config, tgt Target, log *zap.Logger) (*Input, error) {
	cfg = Defaults(cfg)
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("file input %q: %w", cfg.Name, err)
	}
	if cfg.Name == "" {
		return nil, errors.New("file input: no name")
	}
	if len(tgt.Partitions) == 0 {
		return nil, errors.New("file input: no partitions to write to")
	}
	if log == nil {
		log = zap.NewNop()
	}
	in := &Input{
		cfg: cfg, tgt: tgt, log: log,
		files: map[fileID]*tracked{}, byPath: map[string]*tracked{}, saved: map[fileID]posEntry{},
		watched: map[string]bool{},
		buf:     make([]byte, cfg.readBuffer()), fpBuf: make([]byte, cfg.FingerprintBytes),
		cmpBuf: make([]byte, cfg.FingerprintBytes), openFile: os.Open,
	}
	for _, p := range cfg.Include {
		g, _ := compileGlob(p)
		in.include = append(in.include, g)
	}
	for _, p := range cfg.Exclude {
		g, _ := compileGlob(p)
		in.exclude = append(in.exclude, g)
	}
	kind, _ := format.ParseKind(cfg.Format)
	// A record held for its continuation (multiline, CRI partial lines)
	// goes out after flush_timeout: the multiline section's, or its default.
	in.decOpt = format.Options{Kind: kind, MaxBytes: int(cfg.MaxLineBytes), FlushAfter: defaultFlushTimeout}
	if m := cfg.Multiline; m != nil && m.StartPattern != "" {
		in.decOpt.Start = regexp.MustCompile(m.StartPattern)
		in.decOpt.FlushAfter = m.FlushTimeout
	}
	in.srcAttr[format.StreamStdout] = []batch.Attr{batch.StringAttr("stream", "stdout")}
	in.srcAttr[format.StreamStderr] = []batch.Attr{batch.StringAttr("stream", "stderr")}
	in.jsonErrAttr = make(map[error][]batch.Attr, len(format.JSONErrors))
	for _, err := range format.JSONErrors {
		in.jsonErrAttr[err] = []batch.Attr{batch.StringAttr("json_error", err.Error())}
	}
	in.jsonErrAttr[nil] = []batch.Attr{batch.StringAttr("json_error", "unparsable")} // a reason not listed
	return in, nil
}

// Stats returns the input's counters.
func (in *Input) Stats() *Stats { return &in.stats }

// Run tails files until ctx is cancelled, then writes its positions and
// returns. Lines read but not yet in the spool are not lost: positions never
// pass them, so the next run reads them again.
func (in *Input) Run(ctx context.Context) error {
	in.ctx = ctx
	if err := in.restore(); err != nil {
		in.log.Warn("positions unreadable; the spool's tail alone says where files stand", zap.Error(err))
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		in.log.Warn("fsnotify unavailable; relying on stat scans", zap.Error(err))
	} else {
		in.watcher = w
		defer w.Close()
	}
	defer in.closeAll()
	sampleCtx, stopSampler := context.WithCancel(ctx)
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		in.sampleUnread(sampleCtx)
	}()
	defer func() { stopSampler(); <-sampled }()
	var events <-chan fsnotify.Event
	var werrs <-chan error
	if w != nil {
		events, werrs = w.Events, w.Errors
	}
	scan := time.NewTicker(in.cfg.ScanInterval)
	defer scan.Stop()
	poll := time.NewTicker(in.cfg.PollInterval)
	defer poll.Stop()
	save := time.NewTicker(in.cfg.PositionsInterval)
	defer save.Stop()

	in.initial = true
	in.reconcile()
	in.initial = false
	for id, e := range in.saved {
		if e.GoneSince == 0 { // not found by the first scan
			e.GoneSince = time.Now().Unix()
			in.saved[id] = e
		}
	}
	needScan := false
	for ctx.Err() == nil {
		progress := in.readRound()
		if ctx.Err() != nil {
			break
		}
		in.housekeeping()
		wait := !progress
		for drained := false; !drained; {
			if wait {
				wait = false
				select {
				case <-ctx.Done():
				case ev := <-events:
					needScan = in.onEvent(ev) || needScan
				case err := <-werrs:
					in.log.Warn("fsnotify", zap.Error(err))
					needScan = true
				case <-scan.C:
					needScan = true
				case <-poll.C:
					in.onPoll()
				case <-save.C:
					in.savePositions()
				}
				continue
			}
			select {
			case ev := <-events:
				needScan = in.onEvent(ev) || needScan
			case <-scan.C:
				needScan = true
			case <-poll.C:
				in.onPoll()
			case <-save.C:
				in.savePositions()
			default:
				drained = true
			}
		}
		if needScan {
			needScan = false
			in.reconcile()
		}
	}
	in.savePositions()
	in.logStop()
	return nil
}

// logStop says what the input did, as the socket inputs do when they stop.
func (in *Input) logStop() {
	in.updateUnread()
	st := &in.stats
	in.log.Info("stopped", zap.Int64("files_tracked", st.FilesTracked.Load()), zap.Int64("unread_bytes", st.UnreadBytes.Load()),
		zap.Uint64("records", st.Records.Load()), zap.Uint64("bytes", st.Bytes.Load()),
		zap.Uint64("truncated", st.Truncated.Load()), zap.Uint64("invalid", st.Invalid.Load()),
		zap.Uint64("errors", st.Errors.Load()))
}

// onEvent marks a written file ready and asks for a scan on anything else.
func (in *Input) onEvent(ev fsnotify.Event) (scan bool) {
	if ev.Op.Has(fsnotify.Write) {
		in.onWrite(ev.Name)
	}
	if ev.Op.Has(fsnotify.Remove) || ev.Op.Has(fsnotify.Rename) {
		delete(in.watched, ev.Name) // a directory that comes back is watched again
	}
	return ev.Op.Has(fsnotify.Create) || ev.Op.Has(fsnotify.Remove) || ev.Op.Has(fsnotify.Rename)
}

// onWrite marks a written file ready. A file nothing was read from yet — one
// not tracked (its create event came before its directory was watched), or
// one that was empty when found (every logrotate create makes one) — is
// settled now rather than at the next scan, so that its first lines do not
// wait for scan_interval. A copy waiting for its original is left to the
// scan: it gets a write event per block copied.
func (in *Input) onWrite(p string) {
	t := in.byPath[p]
	if t != nil && (t.classified || t.waitsForOriginal) {
		t.ready = true
		return
	}
	if t == nil && !in.matches(p) {
		return
	}
	st, err := statPath(p)
	if err != nil || !st.regular() {
		return // gone already, or not a file: the scan will tell
	}
	now := time.Now()
	in.observe(p, st, now)
	if t = in.files[st.id]; t != nil && !t.classified {
		in.classify(t, now)
	}
	in.stats.FilesTracked.Store(int64(len(in.files)))
}

// onPoll makes every open file try a read, the safety net for lost write
// events, and updates the unread gauge.
func (in *Input) onPoll() {
	for _, t := range in.order {
		if t.f != nil {
			t.ready = true
		}
	}
	in.updateUnread()
}

func (in *Input) watch(dir string) {
	if in.watcher == nil || in.watched[dir] {
		return
	}
	in.watched[dir] = true
	if err := in.watcher.Add(dir); err != nil {
		in.log.Debug("watch", zap.String("dir", dir), zap.Error(err))
	}
}

func (in *Input) closeAll() {
	for _, t := range in.order {
		in.closeFile(t)
	}
}
