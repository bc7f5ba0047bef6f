package socket

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/capstan-agent/capstan/inputs/socket/framing"
	"github.com/capstan-agent/capstan/spool/batch"
)

// Input is a running socket input: its sockets are bound by New and served
// by Run.
type Input struct {
	cfg      Config
	log      *zap.Logger
	stats    Stats
	format   format
	framing  framing.Mode
	loc      *time.Location
	tls      *tls.Config
	certs    *tlsReloader
	batchers []*batcher
	bufSize  int
	bufs     sync.Pool // read buffers of bufSize, lent to busy connections

	listeners []*streamListener
	packets   []*packetSocket

	connMu sync.Mutex
	conns  map[net.Conn]struct{}
	nextID uint64 // spreads connections over partitions; under connMu

	limitLog, idleLog, tlsLog, dropLog every
	closeOnce                          sync.Once
}

type streamListener struct {
	addr address
	ln   net.Listener
}

type packetSocket struct {
	addr address
	conn net.PacketConn
	b    *batcher
}

// New checks cfg, binds every address and returns the input ready to Run.
// parts are the stream's partitions: a connection's records all go to one.
func New(cfg Config, parts []Appender, log *zap.Logger) (*Input, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("socket input %s: %w", cfg.Name, err)
	}
	if len(parts) == 0 {
		return nil, fmt.Errorf("socket input %s: no partitions", cfg.Name)
	}
	if log == nil {
		log = zap.NewNop()
	}
	cfg = cfg.withDefaults()
	in := &Input{cfg: cfg, log: log, conns: make(map[net.Conn]struct{})}
	in.format, _ = parseFormat(cfg.Format)
	in.framing, _ = framing.ParseMode(cfg.Framing)
	in.loc = time.Local
	if cfg.Timezone != "" {
		in.loc, _ = time.LoadLocation(cfg.Timezone)
	}
	in.bufSize = max(framing.BufferSize(cfg.MaxMessageBytes), 64<<10)
	in.bufs.New = func() any { b := make([]byte, in.bufSize); return &b }
	if cfg.TLS != nil {
		t, r, err := buildTLS(cfg.TLS, in.log)
		if err != nil {
			return nil, fmt.Errorf("socket input %s: %w", cfg.Name, err)
		}
		in.tls, in.certs = t, r
	}
	attrs := append([]batch.Attr{batch.StringAttr("input", cfg.Name)}, cfg.Attributes...)
	for _, p := range parts {
		in.batchers = append(in.batchers, newBatcher(p, attrs, cfg.BatchBytes, cfg.Linger, &in.stats, in.log))
	}
	for _, s := range cfg.Addresses {
		a, _ := parseAddress(s, cfg.Type)
		if err := in.listen(a); err != nil {
			in.Close()
			return nil, fmt.Errorf("socket input %s: listen %s: %w", cfg.Name, a, err)
		}
	}
	return in, nil
}

func (in *Input) listen(a address) error {
	mode, _ := strconv.ParseUint(in.cfg.SocketMode, 8, 32)
	bound := a.addr
	if a.network == "unix" || a.network == "unixgram" {
		if err := clearStaleSocket(a.network, a.addr, in.log); err != nil {
			return err
		}
	}
	if a.stream() {
		ln, err := net.Listen(a.network, a.addr)
		if err != nil {
			return err
		}
		in.listeners = append(in.listeners, &streamListener{addr: a, ln: ln})
		bound = ln.Addr().String()
	} else {
		pc, err := net.ListenPacket(a.network, a.addr)
		if err != nil {
			return err
		}
		if n := in.cfg.ReceiveBufferBytes; n > 0 {
			if rb, ok := pc.(interface{ SetReadBuffer(int) error }); ok {
				if err := rb.SetReadBuffer(n); err != nil {
					pc.Close()
					return fmt.Errorf("set receive buffer: %w", err)
				}
			}
		}
		b := in.batchers[len(in.packets)%len(in.batchers)]
		in.packets = append(in.packets, &packetSocket{addr: a, conn: pc, b: b})
		bound = pc.LocalAddr().String()
	}
	if a.network == "unix" || a.network == "unixgram" {
		if err := os.Chmod(a.addr, os.FileMode(mode)); err != nil {
			return fmt.Errorf("chmod socket: %w", err)
		}
	}
	// The bound address, which tells the port when the configuration said 0.
	in.log.Info("listening", zap.String("address", a.network+"://"+bound))
	return nil
}

// Addrs are the bound addresses, in configuration order: streams first,
// then datagram sockets (useful with port 0).
func (in *Input) Addrs() []net.Addr {
	var out []net.Addr
	for _, l := range in.listeners {
		out = append(out, l.ln.Addr())
	}
	for _, p := range in.packets {
		out = append(out, p.conn.LocalAddr())
	}
	return out
}

// Stats are the input's live counters.
func (in *Input) Stats() *Stats { return &in.stats }

// Close releases the sockets of an input that will not Run (Run closes
// them itself). Safe to call twice.
func (in *Input) Close() error {
	in.closeOnce.Do(func() {
		for _, l := range in.listeners {
			l.ln.Close() // a unix listener removes its socket file
		}
		for _, p := range in.packets {
			p.conn.Close()
			if p.addr.network == "unixgram" {
				os.Remove(p.addr.addr)
			}
		}
	})
	return nil
}

// Run serves until ctx ends, then stops accepting, reads what connections
// already sent (until they reach EOF), appends every record it holds and
// returns. Appends get FlushTimeout after ctx ends if the spool is full.
func (in *Input) Run(ctx context.Context) error {
	drain, cancelDrain := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelDrain()
	stopFlush := make(chan struct{})
	var flushers, accepts, conns sync.WaitGroup
	for _, b := range in.batchers {
		flushers.Go(func() { b.run(drain, stopFlush) })
	}
	for _, l := range in.listeners {
		accepts.Go(func() { in.accept(drain, l, &conns) })
	}
	for _, p := range in.packets {
		accepts.Go(func() { in.serveDatagrams(drain, p) })
	}
	<-ctx.Done()
	timer := time.AfterFunc(in.cfg.FlushTimeout, cancelDrain)
	defer timer.Stop()

	in.Close()
	accepts.Wait()
	// No connection comes after this: end reading on all of them, so that
	// each reads what the kernel holds, meets EOF and finishes.
	in.connMu.Lock()
	for c := range in.conns {
		closeRead(c)
	}
	in.connMu.Unlock()
	conns.Wait()
	close(stopFlush)
	flushers.Wait()
	in.log.Info("stopped", zap.Uint64("messages", in.stats.Messages.Load()),
		zap.Uint64("lost_records", in.stats.LostRecords.Load()))
	return nil
}

// closeRead shuts the reading side: queued bytes can still be read, then EOF.
func closeRead(c net.Conn) {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	if cr, ok := c.(interface{ CloseRead() error }); ok {
		if cr.CloseRead() == nil {
			return
		}
	}
	c.SetReadDeadline(time.Now())
}

func (in *Input) accept(ctx context.Context, l *streamListener, conns *sync.WaitGroup) {
	for {
		c, err := l.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: say so and retry shortly.
			in.log.Warn("accept failed", zap.Stringer("address", l.addr), zap.Error(err))
			t := time.NewTimer(100 * time.Millisecond)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
			}
			continue
		}
		in.connMu.Lock()
		if len(in.conns) >= in.cfg.MaxConnections {
			in.connMu.Unlock()
			n := in.stats.ConnectionsRejected.Add(1)
			c.Close()
			if in.limitLog.allow() {
				in.log.Warn("max_connections reached; closing new connection",
					zap.Int("max_connections", in.cfg.MaxConnections), zap.Stringer("address", l.addr),
					zap.String("peer", peerOf(c)), zap.Uint64("rejected_total", n))
			}
			continue
		}
		if n := in.cfg.ReceiveBufferBytes; n > 0 {
			if rb, ok := c.(interface{ SetReadBuffer(int) error }); ok {
				rb.SetReadBuffer(n)
			}
		}
		in.conns[c] = struct{}{}
		id := in.nextID
		in.nextID++
		in.connMu.Unlock()
		in.stats.Connections.Add(1)
		in.stats.ConnectionsAccepted.Add(1)
		conns.Go(func() {
			defer func() {
				c.Close()
				in.connMu.Lock()
				delete(in.conns, c)
				in.connMu.Unlock()
				in.stats.Connections.Add(-1)
			}()
			in.serveConn(ctx, l.addr, c, in.batchers[id%uint64(len(in.batchers))])
		})
	}
}
