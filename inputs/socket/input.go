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
	"sync/atomic"
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

	// Hand-over on reload (handover.go).
	keep      atomic.Bool // set by Keep: leave the sockets to the next instance
	stopping  atomic.Bool // Run is stopping with keep: readers return at a boundary
	inherited *Handoff    // what the previous instance left; taken by New and Run
	handMu    sync.Mutex
	handed    []*connState // connections stopped for the next instance
	left      *Handoff     // what Run left, after Keep
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
	return NewInheriting(cfg, parts, log, nil)
}

// NewInheriting is New taking over what a previous instance left (see
// Keep): its sockets for the addresses cfg keeps (the others are closed) and
// its open connections, which Run serves on.
func NewInheriting(cfg Config, parts []Appender, log *zap.Logger, h *Handoff) (*Input, error) {
	if err := cfg.Validate(); err != nil {
		h.Close()
		return nil, fmt.Errorf("socket input %s: %w", cfg.Name, err)
	}
	if len(parts) == 0 {
		h.Close()
		return nil, fmt.Errorf("socket input %s: no partitions", cfg.Name)
	}
	if log == nil {
		log = zap.NewNop()
	}
	cfg = cfg.withDefaults()
	in := &Input{cfg: cfg, log: log, conns: make(map[net.Conn]struct{}), inherited: h}
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
			h.Close()
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
			h.Close()
			return nil, fmt.Errorf("socket input %s: listen %s: %w", cfg.Name, a, err)
		}
	}
	if h != nil {
		// Addresses the new configuration dropped; the connections stay.
		conns := h.conns
		h.conns = nil
		h.Close()
		h.conns = conns
	}
	return in, nil
}

func (in *Input) listen(a address) error {
	mode, _ := strconv.ParseUint(in.cfg.SocketMode, 8, 32)
	bound := a.addr
	if ln, pc := in.take(a); ln != nil || pc != nil {
		if ln != nil {
			if d, ok := ln.(interface{ SetDeadline(time.Time) error }); ok {
				d.SetDeadline(time.Time{})
			}
			in.listeners = append(in.listeners, &streamListener{addr: a, ln: ln})
		} else {
			pc.SetReadDeadline(time.Time{})
			b := in.batchers[len(in.packets)%len(in.batchers)]
			in.packets = append(in.packets, &packetSocket{addr: a, conn: pc, b: b})
		}
		in.log.Info("listening (taken over from the previous instance)", zap.String("address", a.String()))
		return nil
	}
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
	if h := in.inherited; h != nil {
		in.inherited = nil
		for _, st := range h.conns {
			in.adopt(drain, st, &conns)
		}
	}
	<-ctx.Done()
	timer := time.AfterFunc(in.cfg.FlushTimeout, cancelDrain)
	defer timer.Stop()

	if in.keep.Load() {
		return in.handOver(&accepts, &conns, stopFlush, &flushers)
	}

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

// handOver stops every reader at a message boundary, appends what was
// read, and leaves the sockets open in in.left for the next instance.
func (in *Input) handOver(accepts, conns *sync.WaitGroup, stopFlush chan struct{}, flushers *sync.WaitGroup) error {
	in.stopping.Store(true)
	woken := make(chan struct{})
	stopped := make(chan struct{})
	go func() { defer close(stopped); in.stopReads(woken) }()
	accepts.Wait()
	conns.Wait()
	close(woken)
	<-stopped
	close(stopFlush)
	flushers.Wait()
	h := &Handoff{listeners: map[string]net.Listener{}, packets: map[string]net.PacketConn{}, conns: in.handed}
	for _, l := range in.listeners {
		h.listeners[l.addr.String()] = l.ln
		h.listeners[l.addr.network+"://"+l.ln.Addr().String()] = l.ln
	}
	for _, p := range in.packets {
		h.packets[p.addr.String()] = p.conn
		h.packets[p.addr.network+"://"+p.conn.LocalAddr().String()] = p.conn
	}
	for _, st := range h.conns {
		st.conn.SetReadDeadline(time.Time{})
	}
	in.left = h
	in.log.Info("stopped; sockets handed to the new configuration", zap.Int("connections", len(h.conns)),
		zap.Uint64("messages", in.stats.Messages.Load()))
	return nil
}

// adopt serves a connection an earlier instance handed over.
func (in *Input) adopt(ctx context.Context, st *connState, conns *sync.WaitGroup) {
	st.foreign = st.bufp != nil // from the other instance's pool
	in.connMu.Lock()
	in.conns[st.conn] = struct{}{}
	in.connMu.Unlock()
	in.stats.Connections.Add(1)
	conns.Go(func() {
		in.finish(st.conn, in.readConn(ctx, st, in.batchers[st.part%uint64(len(in.batchers))]))
	})
}

// finish closes a connection whose reader returned, or keeps it for the
// next instance when the reader handed it over.
func (in *Input) finish(c net.Conn, st *connState) {
	in.connMu.Lock()
	delete(in.conns, c)
	in.connMu.Unlock()
	in.stats.Connections.Add(-1)
	if st != nil {
		in.handMu.Lock()
		in.handed = append(in.handed, st)
		in.handMu.Unlock()
		return
	}
	c.Close()
}

func (in *Input) accept(ctx context.Context, l *streamListener, conns *sync.WaitGroup) {
	for {
		c, err := l.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) || in.stopping.Load() && isDeadline(err) {
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
			in.finish(c, in.serveConn(ctx, l.addr, c, id))
		})
	}
}
