package httpc

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// TransportOptions shape the connections of an output.
type TransportOptions struct {
	TLS            *tls.Config // nil: plain (http:// endpoints)
	ConnectTimeout time.Duration
	// MaxConns bounds the connections to a host: the output's concurrency
	// (one request per connection with HTTP/1.1).
	MaxConns int
}

// Transport is an http.Transport that counts its connections.
type Transport struct {
	*http.Transport
	open, made atomic.Int64
}

// NewTransport makes the transport of an output. Idle connections are kept
// (as many as MaxConns) and closed after 90 s unused.
func NewTransport(o TransportOptions) *Transport {
	t := &Transport{}
	d := &net.Dialer{Timeout: o.ConnectTimeout, KeepAlive: 30 * time.Second}
	t.Transport = &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			t.open.Add(1)
			t.made.Add(1)
			return &countedConn{Conn: c, open: &t.open}, nil
		},
		TLSClientConfig:       o.TLS,
		TLSHandshakeTimeout:   o.ConnectTimeout,
		ForceAttemptHTTP2:     o.TLS != nil,
		MaxIdleConns:          max(1, o.MaxConns),
		MaxIdleConnsPerHost:   max(1, o.MaxConns),
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true, // answers are small; a request's compression is the output's
	}
	return t
}

// Open is the number of connections open now; Made how many were made.
func (t *Transport) Open() int64 { return t.open.Load() }

// Made is how many connections were made since the transport was.
func (t *Transport) Made() int64 { return t.made.Load() }

// Close closes the idle connections.
func (t *Transport) Close() { t.CloseIdleConnections() }

type countedConn struct {
	net.Conn
	open *atomic.Int64
	once sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(func() { c.open.Add(-1) })
	return c.Conn.Close()
}
