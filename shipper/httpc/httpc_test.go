package httpc

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/capstan-agent/capstan/component/conf"
)

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"2", 2 * time.Second, true},
		{" 120 ", 2 * time.Minute, true},
		{"0", 0, true},
		{"Fri, 01 May 2026 10:00:30 GMT", 30 * time.Second, true},
		{"Fri, 01 May 2026 09:00:00 GMT", 0, true}, // in the past
		{"", 0, false},
		{"-1", 0, false},
		{"1.5", 0, false},
		{"soon", 0, false},
		{"99999999999", 0, false},
	} {
		got, ok := RetryAfter(tc.in, now)
		if got != tc.want || ok != tc.ok {
			t.Errorf("RetryAfter(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func FuzzRetryAfter(f *testing.F) {
	for _, s := range []string{"2", "Fri, 01 May 2026 10:00:30 GMT", "", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if d, ok := RetryAfter(s, time.Now()); d < 0 || !ok && d != 0 {
			t.Errorf("RetryAfter(%q) = %v, %v", s, d, ok)
		}
	})
}

func TestErrorReason(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	_, dialErr := net.Dial("tcp", addr)
	for _, tc := range []struct {
		err  error
		want string
	}{
		{context.DeadlineExceeded, "timeout"},
		{fmt.Errorf("post: %w", context.Canceled), "canceled"},
		{dialErr, "connect"},
		{&net.OpError{Op: "read", Err: errors.New("connection reset by peer")}, "connection"},
		{tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}, "tls"},
		{io.ErrUnexpectedEOF, "connection"},
	} {
		if got := ErrorReason(tc.err); got != tc.want {
			t.Errorf("ErrorReason(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

func TestCompressorRoundTrip(t *testing.T) {
	src := bytes.Repeat([]byte("2026-05-01T10:00:00Z level=info msg=\"served\" path=/api status=200\n"), 2000)
	for _, name := range []string{None, Gzip, Zstd} {
		c, err := NewCompressor(name, 2)
		if err != nil {
			t.Fatal(err)
		}
		prefix := []byte("kept")
		out := c.Append(append([]byte(nil), prefix...), src)
		if !bytes.HasPrefix(out, prefix) {
			t.Fatalf("%s: dst's bytes not kept", name)
		}
		var got []byte
		switch name {
		case None:
			got = out[len(prefix):]
		case Gzip:
			r, err := gzip.NewReader(bytes.NewReader(out[len(prefix):]))
			if err != nil {
				t.Fatal(err)
			}
			got, err = io.ReadAll(r)
			if err != nil {
				t.Fatal(err)
			}
		case Zstd:
			d, _ := zstd.NewReader(nil)
			got, err = d.DecodeAll(out[len(prefix):], nil)
			d.Close()
			if err != nil {
				t.Fatal(err)
			}
		}
		if !bytes.Equal(got, src) {
			t.Errorf("%s: round trip differs", name)
		}
		if name != None && len(out) > len(src)/4 {
			t.Errorf("%s: %d bytes from %d: not compressed", name, len(out), len(src))
		}
		if ce := c.ContentEncoding(); (ce == "") != (name == None) {
			t.Errorf("%s: Content-Encoding %q", name, ce)
		}
		c.Close()
	}
	if _, err := NewCompressor("lz4", 1); err == nil {
		t.Error("lz4 accepted")
	}
}

func TestAuthValidate(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "token")
	os.WriteFile(good, []byte("s3cret\n"), 0o600)
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, []byte("\n"), 0o600)
	missing := filepath.Join(dir, "missing")
	for _, tc := range []struct {
		name string
		auth Auth
		want string // "" for valid
	}{
		{"bearer inline", Auth{Bearer: &Bearer{Token: "t"}}, ""},
		{"bearer file", Auth{Bearer: &Bearer{TokenFile: good}}, ""},
		{"basic", Auth{Basic: &Basic{User: "u", Password: "p"}}, ""},
		{"header", Auth{Header: &AuthHeader{Name: "X-API-Key", ValueFile: good}}, ""},
		{"none", Auth{}, "give one of basic, bearer or header"},
		{"two", Auth{Bearer: &Bearer{Token: "t"}, Basic: &Basic{User: "u", Password: "p"}}, "give one of"},
		{"unreadable token file", Auth{Bearer: &Bearer{TokenFile: missing}}, "bearer.token_file: cannot read " + missing + ": no such file or directory"},
		{"empty token file", Auth{Bearer: &Bearer{TokenFile: empty}}, "bearer.token_file: " + empty + " is empty"},
		{"token twice", Auth{Bearer: &Bearer{Token: "t", TokenFile: good}}, "bearer.token: give the token inline or in bearer.token_file, once"},
		{"no user", Auth{Basic: &Basic{Password: "p"}}, "basic.user: missing"},
		{"bad header name", Auth{Header: &AuthHeader{Name: "X API", Value: "v"}}, `header.name: "X API" is not a header name`},
	} {
		err := tc.auth.Validate()
		if tc.want == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestAuthorizerRereadsItsFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "token")
	os.WriteFile(file, []byte("one\n"), 0o600)
	z, err := NewAuthorizer(&Auth{Bearer: &Bearer{TokenFile: file}})
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	if err := z.Apply(h); err != nil || h.Get("Authorization") != "Bearer one" {
		t.Fatalf("first: %q, %v", h.Get("Authorization"), err)
	}
	os.WriteFile(file, []byte("second\n"), 0o600)
	z.file.mu.Lock()
	z.file.checked = time.Time{} // as if a second went by
	z.file.mu.Unlock()
	if err := z.Apply(h); err != nil || h.Get("Authorization") != "Bearer second" {
		t.Fatalf("after rotation: %q, %v", h.Get("Authorization"), err)
	}
	os.Remove(file)
	z.file.mu.Lock()
	z.file.checked = time.Time{}
	z.file.mu.Unlock()
	if err := z.Apply(h); err != nil || h.Get("Authorization") != "Bearer second" {
		t.Fatalf("file gone: %q, %v (want the last value kept)", h.Get("Authorization"), err)
	}

	b, err := NewAuthorizer(&Auth{Basic: &Basic{User: "instance", Password: "key"}})
	if err != nil {
		t.Fatal(err)
	}
	b.Apply(h)
	if got := h.Get("Authorization"); got != "Basic aW5zdGFuY2U6a2V5" {
		t.Errorf("basic: %q", got)
	}
	k, _ := NewAuthorizer(&Auth{Header: &AuthHeader{Name: "X-API-Key", Value: "k1"}})
	k.Apply(h)
	if h.Get("X-Api-Key") != "k1" {
		t.Errorf("header: %v", h)
	}
	if _, err := NewAuthorizer(&Auth{Bearer: &Bearer{TokenFile: file}}); err == nil || !strings.Contains(err.Error(), "auth.bearer.token_file") {
		t.Errorf("missing file at start: %v", err)
	}
}

func TestValidateHeaders(t *testing.T) {
	var e conf.Errors
	ValidateHeaders(&e, "headers", map[string]string{
		"X-API-Key": "k", "bad name": "v", "X-Multi": "a\r\nInjected: x", "content-type": "text/plain",
	}, "content-type", "content-encoding")
	got := e.Error()
	for _, w := range []string{`headers."bad name": "bad name" is not a header name`,
		`headers.X-Multi: a header value may not hold a line break`, `headers.content-type: the output sets Content-Type itself`} {
		if !strings.Contains(got, w) {
			t.Errorf("lack %q in\n%s", w, got)
		}
	}
	if strings.Contains(got, "X-API-Key") {
		t.Errorf("good header refused:\n%s", got)
	}
}

func TestTransportCountsConnections(t *testing.T) {
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.Copy(io.Discard, r.Body) })}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()
	tr := NewTransport(TransportOptions{ConnectTimeout: time.Second, MaxConns: 2})
	cl := &http.Client{Transport: tr}
	for range 3 {
		resp, err := cl.Post("http://"+ln.Addr().String(), "text/plain", strings.NewReader("x"))
		if err != nil {
			t.Fatal(err)
		}
		ReadBody(resp, nil, 100)
	}
	if tr.Open() != 1 || tr.Made() != 1 {
		t.Errorf("open %d made %d, want 1 and 1 (one kept-alive connection)", tr.Open(), tr.Made())
	}
	tr.Close()
	if tr.Open() != 0 {
		t.Errorf("open %d after closing idle connections", tr.Open())
	}
}

func TestBody(t *testing.T) {
	b := &Body{Parts: [3][]byte{[]byte("head-"), nil, []byte("tail")}}
	got, err := io.ReadAll(b.Reset())
	if err != nil || string(got) != "head-tail" || b.Len() != 9 {
		t.Fatalf("read %q, %v, len %d", got, err, b.Len())
	}
	again, _ := io.ReadAll(b.Reset())
	if string(again) != "head-tail" {
		t.Fatalf("after Reset: %q", again)
	}
	b.Reset()
	b.Finish()
	if n, err := b.Read(make([]byte, 4)); n != 0 || err == nil {
		t.Errorf("read after Finish: %d, %v", n, err)
	}
}

func TestSecretAuthorizer(t *testing.T) {
	file := filepath.Join(t.TempDir(), "key")
	os.WriteFile(file, []byte("a2V5\n"), 0o600)
	for _, tc := range []struct {
		inline, file, want string
	}{
		{"aW5saW5l", "", "ApiKey aW5saW5l"},
		{"", file, "ApiKey a2V5"},
	} {
		z, err := NewSecretAuthorizer("Authorization", "ApiKey ", tc.inline, tc.file, "auth.api_key.key_file")
		if err != nil {
			t.Fatal(err)
		}
		h := http.Header{}
		if err := z.Apply(h); err != nil || h.Get("Authorization") != tc.want {
			t.Errorf("%q, %v; want %q", h.Get("Authorization"), err, tc.want)
		}
	}
	if _, err := NewSecretAuthorizer("Authorization", "ApiKey ", "", file+".missing", "auth.api_key.key_file"); err == nil ||
		!strings.HasPrefix(err.Error(), "auth.api_key.key_file: ") {
		t.Errorf("missing file: %v", err)
	}
}
