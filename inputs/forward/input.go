package forward

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/capstan-agent/capstan/spool"
	"github.com/capstan-agent/capstan/spool/protocol"
)

// Appender stores whole batches; *spool.Partition is one.
type Appender interface {
	Append(ctx context.Context, b []byte) (spool.AppendResult, error)
}

// Stats are the input's counters, safe to read while it runs.
type Stats struct {
	Connections atomic.Int64  // open now
	Accepted    atomic.Uint64 // hellos accepted
	Refused     atomic.Uint64 // hellos refused (magic, version, token, limits)
	Frames      atomic.Uint64 // DATA frames stored and acknowledged
	Batches     atomic.Uint64 // batches received in stored frames
	Records     atomic.Uint64
	Bytes       atomic.Uint64 // payload bytes received in stored frames
	Duplicates  atomic.Uint64 // batches dropped as already stored
	BadFrames   atomic.Uint64 // frames refused with an ERROR
}

// Input listens for forward clients and appends what they send to a stream.
type Input struct {
	cfg   Config
	parts []Appender
	ln    net.Listener
	log   *zap.Logger
	stats Stats

	mu      sync.Mutex
	conns   map[net.Conn]struct{}
	closing bool
	wg      sync.WaitGroup
}

// New validates cfg and listens on cfg.Address; batches go to the stream's
// partitions. Run serves.
func New(cfg Config, stream *spool.Stream, log *zap.Logger) (*Input, error) {
	parts := make([]Appender, 0, len(stream.Partitions()))
	for _, p := range stream.Partitions() {
		parts = append(parts, p)
	}
	return newInput(cfg, parts, log)
}

func newInput(cfg Config, parts []Appender, log *zap.Logger) (*Input, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("forward input %s: %w", cfg.Name, err)
	}
	if len(parts) == 0 {
		return nil, fmt.Errorf("forward input %s: stream has no partitions", cfg.Name)
	}
	cfg = cfg.withDefaults()
	if log == nil {
		log = zap.NewNop()
	}
	tc, err := cfg.TLS.tlsConfig()
	if cfg.tlsConfig != nil {
		tc = cfg.tlsConfig
	}
	if err != nil {
		return nil, fmt.Errorf("forward input %s: %w", cfg.Name, err)
	}
	ln, err := net.Listen("tcp", cfg.Address)
	if err != nil {
		return nil, fmt.Errorf("forward input %s: %w", cfg.Name, err)
	}
	if tc != nil {
		ln = tls.NewListener(ln, tc)
	}
	in := &Input{cfg: cfg, parts: parts, ln: ln, log: log,
		conns: map[net.Conn]struct{}{}}
	// The bound address, which tells the port when the configuration said 0.
	in.log.Info("listening", zap.String("address", "tcp://"+ln.Addr().String()), zap.Bool("tls", tc != nil))
	return in, nil
}

// Addr is the address the input listens on.
func (in *Input) Addr() net.Addr { return in.ln.Addr() }

// Stats are the input's counters.
func (in *Input) Stats() *Stats { return &in.stats }

// Close releases the listener of an input that will not Run (New listens at
// once, so that a taken port is a configuration error). Safe to call twice,
// and after Run.
func (in *Input) Close() error {
	err := in.ln.Close()
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// Run accepts clients until ctx ends, then stops reading, lets each
// connection finish the frame it is storing, and returns once all are closed.
func (in *Input) Run(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() {
		in.ln.Close()
		in.mu.Lock()
		in.closing = true
		for c := range in.conns {
			// Wake blocked reads; a frame being appended completes first.
			c.SetReadDeadline(time.Now())
		}
		in.mu.Unlock()
	})
	defer stop()
	var delay time.Duration
	for {
		c, err := in.ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			// Out of file descriptors and the like: wait a little, go on.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			in.log.Warn("accept failed", zap.Error(err), zap.Duration("retry_in", delay))
			select {
			case <-time.After(delay):
			case <-ctx.Done():
			}
			continue
		}
		delay = 0
		if ok, full := in.track(c); !ok {
			if full {
				in.stats.Refused.Add(1)
				in.log.Warn("forward client refused: too many connections", zap.Int("max_connections", in.cfg.MaxConnections))
				in.refuseFull(c)
			}
			c.Close()
			continue
		}
		in.wg.Add(1)
		go func() {
			defer in.wg.Done()
			defer in.untrack(c)
			in.serve(ctx, c)
		}()
	}
	in.wg.Wait()
	return nil
}

func (in *Input) track(c net.Conn) (ok, full bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.closing {
		return false, false
	}
	if len(in.conns) >= in.cfg.MaxConnections {
		return false, true
	}
	in.conns[c] = struct{}{}
	in.stats.Connections.Add(1)
	return true, false
}

// refuseFull answers a client over the connection limit with a refused
// hello, without reading its hello (a refusal needs none), and briefly.
func (in *Input) refuseFull(c net.Conn) {
	c.SetWriteDeadline(time.Now().Add(time.Second))
	c.Write(protocol.AppendServerHello(nil, &protocol.ServerHello{Version: protocol.Version,
		Reason: fmt.Sprintf("too many connections (max %d)", in.cfg.MaxConnections)}))
}

func (in *Input) untrack(c net.Conn) {
	c.Close()
	in.mu.Lock()
	delete(in.conns, c)
	in.mu.Unlock()
	in.stats.Connections.Add(-1)
}

// errShutdown marks a connection closed because the input is stopping.
var errShutdown = errors.New("input shutting down")
