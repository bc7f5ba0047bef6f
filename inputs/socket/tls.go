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

// certReloader hands out the server certificate, re-reading its files when
// their size or modification time changed (checked at most once a second).
// A broken new pair is logged and the last good one kept.
type certReloader struct {
	certFile, keyFile string
	log               *zap.Logger
	interval          time.Duration // between looks at the files

	mu      sync.Mutex
	cert    *tls.Certificate
	stamp   [2]fileStamp
	checked time.Time
}

type fileStamp struct {
	size int64
	mod  time.Time
}

func stampOf(path string) (fileStamp, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStamp{}, err
	}
	return fileStamp{fi.Size(), fi.ModTime()}, nil
}

func newCertReloader(certFile, keyFile string, log *zap.Logger) (*certReloader, error) {
	r := &certReloader{certFile: certFile, keyFile: keyFile, log: log, interval: time.Second}
	if err := r.load(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *certReloader) load() error {
	s1, err1 := stampOf(r.certFile)
	s2, err2 := stampOf(r.keyFile)
	if err1 != nil || err2 != nil {
		return fmt.Errorf("stat tls files: %v %v", err1, err2)
	}
	cert, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return fmt.Errorf("load tls certificate %s: %w", r.certFile, err)
	}
	r.cert, r.stamp = &cert, [2]fileStamp{s1, s2}
	return nil
}

func (r *certReloader) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if now := time.Now(); now.Sub(r.checked) >= r.interval {
		r.checked = now
		s1, err1 := stampOf(r.certFile)
		s2, err2 := stampOf(r.keyFile)
		if err1 == nil && err2 == nil && [2]fileStamp{s1, s2} != r.stamp {
			if err := r.load(); err != nil {
				r.log.Warn("tls certificate changed but does not load; keeping the old one", zap.Error(err))
				r.stamp = [2]fileStamp{s1, s2} // do not retry until it changes again
			} else {
				r.log.Info("tls certificate reloaded", zap.String("cert_file", r.certFile))
			}
		}
	}
	return r.cert, nil
}

func buildTLS(c *TLSConfig, log *zap.Logger) (*tls.Config, *certReloader, error) {
	r, err := newCertReloader(c.CertFile, c.KeyFile, log)
	if err != nil {
		return nil, nil, err
	}
	minV, err := tlsVersion(c.MinVersion)
	if err != nil {
		return nil, nil, err
	}
	cfg := &tls.Config{GetCertificate: r.get, MinVersion: minV}
	if c.ClientCAFile != "" {
		pem, err := os.ReadFile(c.ClientCAFile)
		if err != nil {
			return nil, nil, fmt.Errorf("read tls client ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, nil, fmt.Errorf("tls client ca %s: no PEM certificates", c.ClientCAFile)
		}
		cfg.ClientCAs, cfg.ClientAuth = pool, tls.RequireAndVerifyClientCert
	}
	return cfg, r, nil
}
