package socket

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"sync"
	"time"

	"go.uber.org/zap"
)

// tlsReloader hands every handshake the current server configuration,
// re-reading the certificate, key and client CA files when their size or
// modification time changed (looked at, at most once an interval). A new set
// that does not load is logged and the last good one kept, so a renewal needs
// no restart and a botched one breaks nothing.
type tlsReloader struct {
	src      TLSConfig
	minV     uint16
	log      *zap.Logger
	interval time.Duration

	mu      sync.Mutex
	cfg     *tls.Config
	stamp   [3]fileStamp
	checked time.Time
}

type fileStamp struct {
	size int64
	mod  time.Time
}

func (r *tlsReloader) stamps() ([3]fileStamp, error) {
	var out [3]fileStamp
	for i, p := range [3]string{r.src.CertFile, r.src.KeyFile, r.src.ClientCAFile} {
		if p == "" {
			continue
		}
		fi, err := os.Stat(p)
		if err != nil {
			return out, fmt.Errorf("stat %s: %w", p, err)
		}
		out[i] = fileStamp{fi.Size(), fi.ModTime()}
	}
	return out, nil
}

// load reads the files into a fresh configuration.
func (r *tlsReloader) load() (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(r.src.CertFile, r.src.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("load tls certificate %s: %w", r.src.CertFile, err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: r.minV}
	if r.src.ClientCAFile != "" {
		pem, err := os.ReadFile(r.src.ClientCAFile)
		if err != nil {
			return nil, fmt.Errorf("read tls client ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls client ca %s: no PEM certificates", r.src.ClientCAFile)
		}
		cfg.ClientCAs, cfg.ClientAuth = pool, tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}

func (r *tlsReloader) config(*tls.ClientHelloInfo) (*tls.Config, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if now := time.Now(); now.Sub(r.checked) >= r.interval {
		r.checked = now
		if st, err := r.stamps(); err == nil && st != r.stamp {
			r.stamp = st // a broken set is tried again only when it changes again
			if cfg, err := r.load(); err != nil {
				r.log.Warn("tls files changed but do not load; keeping the old ones", zap.Error(err))
			} else {
				r.cfg = cfg
				r.log.Info("tls files reloaded", zap.String("cert_file", r.src.CertFile))
			}
		}
	}
	return r.cfg, nil
}

// buildTLS loads the TLS files once, so that a bad file fails New, and
// returns a listener configuration that follows them afterwards.
func buildTLS(c *TLSConfig, log *zap.Logger) (*tls.Config, *tlsReloader, error) {
	minV, err := tlsVersion(c.MinVersion)
	if err != nil {
		return nil, nil, err
	}
	r := &tlsReloader{src: *c, minV: minV, log: log, interval: time.Second}
	if r.stamp, err = r.stamps(); err != nil {
		return nil, nil, err
	}
	if r.cfg, err = r.load(); err != nil {
		return nil, nil, err
	}
	return &tls.Config{GetConfigForClient: r.config, MinVersion: minV}, r, nil
}
