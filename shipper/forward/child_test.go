package forward

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"go.uber.org/zap"

	fwdin "github.com/capstan-agent/capstan/inputs/forward"
	"github.com/capstan-agent/capstan/spool"
	"github.com/capstan-agent/capstan/spool/spooltest"
)

// The tests re-execute their own binary as edge and core agents, so that
// they can SIGKILL them: CAPSTAN_FORWARD_CHILD names the role, the other
// CAPSTAN_* variables its settings.
const childEnv = "CAPSTAN_FORWARD_CHILD"

func runChild() int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	fmt.Println("ready")
	var err error
	switch role := os.Getenv(childEnv); role {
	case "edge":
		err = runEdge(ctx)
	case "core":
		err = runCore(ctx)
	case "ship":
		err = runShip(ctx)
	case "bare":
		err = runBare(ctx)
	default:
		err = fmt.Errorf("unknown role %q", role)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	return 0
}

func envInt(name string) int {
	n, _ := strconv.Atoi(os.Getenv(name))
	return n
}

func childLogger() *zap.Logger {
	if os.Getenv("CAPSTAN_CHILD_LOG") == "" {
		return nil
	}
	l, _ := zap.NewDevelopment()
	return l
}

// Numbered records of the crash test: partition p holds "p<p>-<i>". Even
// partitions are written by a producer with identity (like a file input:
// it resumes from the spool's Sequence); odd ones without (like UDP: it
// resumes from the partition's next offset), so both dedup paths are tested.
func producerOf(p int) uint64 {
	if p%2 == 1 {
		return 0
	}
	return 1000 + uint64(p)
}

// runEdge fills stream "app" with CAPSTAN_RECORDS numbered records per
// partition, resuming after a kill exactly where its spool says, while a
// forward output ships them to CAPSTAN_ENDPOINT.
func runEdge(ctx context.Context) error {
	s, err := spool.Open(os.Getenv("CAPSTAN_DIR"), spool.Options{SegmentBytes: 1 << 20})
	if err != nil {
		return err
	}
	defer s.Close()
	parts, records := envInt("CAPSTAN_PARTITIONS"), envInt("CAPSTAN_RECORDS")
	st, err := s.Stream("app", spool.StreamOptions{Partitions: parts})
	if err != nil {
		return err
	}
	out, err := New(Config{Name: "to-core", Endpoints: strings.Split(os.Getenv("CAPSTAN_ENDPOINT"), ","),
		FrameBytes: 64 << 10, BackoffInitial: 5 * time.Millisecond, BackoffMax: 50 * time.Millisecond},
		s, []*spool.Stream{st}, childLogger())
	if err != nil {
		return err
	}
	genDone := make(chan error, parts)
	for p := 0; p < parts; p++ {
		go func() { genDone <- generate(ctx, st.Partition(p), p, records) }()
	}
	runErr := out.Run(ctx)
	for p := 0; p < parts; p++ {
		if err := <-genDone; err != nil && ctx.Err() == nil {
			return err
		}
	}
	return runErr
}

func generate(ctx context.Context, part *spool.Partition, p, records int) error {
	const per = 50
	producer := producerOf(p)
	from := int(part.NextOffset())
	if producer != 0 {
		seq, _ := part.Sequence(producer)
		from = int(seq)
	}
	tag := fmt.Sprintf("p%d", p)
	for i := from; i < records && ctx.Err() == nil; i += per {
		n := min(per, records-i)
		if _, err := part.Append(ctx, spooltest.Batch(producer, tag, i, n)); err != nil {
			return err
		}
		time.Sleep(4 * time.Millisecond) // spread the writes over the kills
	}
	return nil
}

// runCore receives into stream "core" at CAPSTAN_ENDPOINT.
func runCore(ctx context.Context) error {
	s, err := spool.Open(os.Getenv("CAPSTAN_DIR"), spool.Options{SegmentBytes: 1 << 20})
	if err != nil {
		return err
	}
	defer s.Close()
	st, err := s.Stream("core", spool.StreamOptions{Partitions: envInt("CAPSTAN_PARTITIONS")})
	if err != nil {
		return err
	}
	in, err := fwdin.New(fwdin.Config{Name: "edges", Address: os.Getenv("CAPSTAN_ENDPOINT")}, st, childLogger())
	if err != nil {
		return err
	}
	return in.Run(ctx)
}

// runShip ships the stream "app" already in CAPSTAN_DIR to CAPSTAN_ENDPOINT
// until the peer acknowledged all of it, then exits.
func runShip(ctx context.Context) error {
	s, err := spool.Open(os.Getenv("CAPSTAN_DIR"), spool.Options{})
	if err != nil {
		return err
	}
	defer s.Close()
	st, err := s.Stream("app", spool.StreamOptions{Partitions: 2})
	if err != nil {
		return err
	}
	name := os.Getenv("CAPSTAN_OUTPUT")
	if name == "" {
		name = "ship"
	}
	cfg := Config{Name: name, Endpoints: []string{os.Getenv("CAPSTAN_ENDPOINT")}}
	cfg.DisableSendfile = os.Getenv("CAPSTAN_BUFFERED") != ""
	cfg.FrameBytes = envInt("CAPSTAN_FRAME_BYTES")
	out, err := New(cfg, s, []*spool.Stream{st}, childLogger())
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if path := os.Getenv("CAPSTAN_CPUPROFILE"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	start, cpu0 := time.Now(), cpuTime()
	done := make(chan error, 1)
	go func() { done <- out.Run(ctx) }()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for !allAcked(out) {
		select {
		case err := <-done:
			return fmt.Errorf("output stopped: %v", err)
		case <-tick.C:
		}
	}
	report(start, cpu0)
	cancel()
	return <-done
}

// runBare sends the bytes of stream "app" in CAPSTAN_DIR to CAPSTAN_ENDPOINT
// with nothing but sendfile(2): the bound for the forward output.
func runBare(ctx context.Context) error {
	s, err := spool.Open(os.Getenv("CAPSTAN_DIR"), spool.Options{})
	if err != nil {
		return err
	}
	defer s.Close()
	st, err := s.Stream("app", spool.StreamOptions{Partitions: 2})
	if err != nil {
		return err
	}
	start, cpu0 := time.Now(), cpuTime()
	conn, err := net.Dial("tcp", os.Getenv("CAPSTAN_ENDPOINT"))
	if err != nil {
		return err
	}
	sf, err := newSendfileConn(conn.(*net.TCPConn))
	if err != nil {
		return err
	}
	for _, p := range st.Partitions() {
		r := p.NewReader(0)
		for {
			rg, err := r.Next(1 << 30)
			if errors.Is(err, spool.ErrNoData) {
				break
			}
			if err != nil {
				return err
			}
			if err := sf.send(nil, rg.File, rg.Pos, rg.Len); err != nil {
				return err
			}
		}
	}
	conn.(*net.TCPConn).CloseWrite()
	io.Copy(io.Discard, conn) // the reader closes once it read everything
	conn.Close()
	report(start, cpu0)
	return nil
}

// cpuTime is the process's user+system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// report prints "elapsed_ns cpu_ns maxrss_kib" for the parent.
func report(start time.Time, cpu0 time.Duration) {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	fmt.Printf("%d %d %d\n", time.Since(start).Nanoseconds(), (cpuTime() - cpu0).Nanoseconds(), ru.Maxrss)
}
