package otlp

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/protobuf/proto"

	"github.com/capstan-agent/capstan/component/tlsconf"
)

// writePair writes a self-signed certificate for localhost (its own CA,
// good for server and client) and its key.
func writePair(t *testing.T, dir, name string) (cert, key string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name}, IsCA: true,
		BasicConstraintsValid: true, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalPKCS8PrivateKey(k)
	cert, key = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}), 0o600)
	return cert, key
}

// logsServer counts the records of Export calls.
type logsServer struct {
	collogspb.UnimplementedLogsServiceServer
	records atomic.Int64
}

func (s *logsServer) Export(_ context.Context, req *collogspb.ExportLogsServiceRequest) (*collogspb.ExportLogsServiceResponse, error) {
	s.records.Add(int64(countRecords(req)))
	return &collogspb.ExportLogsServiceResponse{}, nil
}

func countRecords(req *collogspb.ExportLogsServiceRequest) int {
	n := 0
	for _, rl := range req.ResourceLogs {
		for _, sl := range rl.ScopeLogs {
			n += len(sl.LogRecords)
		}
	}
	return n
}

// TestMutualTLS: over HTTP and gRPC, to a server that requires a client
// certificate signed by its CA: without one nothing is delivered (the
// output retries, degraded); with tls.cert_file and key_file everything is.
func TestMutualTLS(t *testing.T) {
	dir := t.TempDir()
	srvCert, srvKey := writePair(t, dir, "server")
	cliCert, cliKey := writePair(t, dir, "client")
	sc, err := (&tlsconf.Server{CertFile: srvCert, KeyFile: srvKey, ClientCAFile: cliCert, MinVersion: "1.2"}).Config()
	if err != nil {
		t.Fatal(err)
	}
	for _, protocol := range []string{"http", "grpc"} {
		t.Run(protocol, func(t *testing.T) {
			ls := &logsServer{}
			var port string
			if protocol == "http" {
				srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					body, _ := io.ReadAll(r.Body)
					var req collogspb.ExportLogsServiceRequest
					if err := proto.Unmarshal(body, &req); err != nil || r.URL.Path != "/v1/logs" {
						http.Error(w, "bad request", 400)
						return
					}
					ls.records.Add(int64(countRecords(&req)))
					w.Header().Set("Content-Type", "application/x-protobuf")
				}))
				srv.TLS = sc
				srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes are the test's
				srv.StartTLS()
				t.Cleanup(srv.Close)
				_, port, _ = net.SplitHostPort(srv.Listener.Addr().String())
			} else {
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				gs := grpc.NewServer(grpc.Creds(credentials.NewTLS(sc)))
				collogspb.RegisterLogsServiceServer(gs, ls)
				go gs.Serve(ln)
				t.Cleanup(gs.Stop)
				_, port, _ = net.SplitHostPort(ln.Addr().String())
			}
			endpoint := "https://localhost:" + port
			r := newRig(t, 1)
			r.add(0, 0, 200, 50)

			// Without a client certificate: refused at the handshake, retried.
			e, stop := r.run(testConfig(endpoint, func(c *Config) {
				c.Protocol, c.Compression = protocol, "none"
				c.TLS = &tlsconf.Client{CAFile: srvCert, MinVersion: "1.2"}
			}))
			waitFor(t, "a failed send", func() bool { return e.Stats().Requests.Load() > 1 })
			if err := stop(); err != nil {
				t.Fatal(err)
			}
			if ls.records.Load() != 0 || r.Committed(0) != 0 {
				t.Fatalf("delivered %d records (committed %d) without a client certificate", ls.records.Load(), r.Committed(0))
			}

			_, stop = r.run(testConfig(endpoint, func(c *Config) {
				c.Protocol, c.Compression = protocol, "none"
				c.TLS = &tlsconf.Client{CAFile: srvCert, CertFile: cliCert, KeyFile: cliKey, MinVersion: "1.3"}
			}))
			waitFor(t, "every record committed", func() bool { return r.Committed(0) == 200 })
			if err := stop(); err != nil {
				t.Fatal(err)
			}
			if n := ls.records.Load(); n != 200 {
				t.Errorf("server got %d records, want 200", n)
			}
		})
	}
}
