package httpc

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/capstan-agent/capstan/component/conf"
)

// Auth is the auth section: one of basic, bearer or a header of the
// user's, each with its secret given inline (or from the environment with
// ${VAR}) or in a file that is read again when it changes (a rotated
// Kubernetes token).
type Auth struct {
	Basic  *Basic      `koanf:"basic"`
	Bearer *Bearer     `koanf:"bearer"`
	Header *AuthHeader `koanf:"header"`
}

// Basic is HTTP basic authentication (RFC 7617).
type Basic struct {
	User         string `koanf:"user"`
	Password     string `koanf:"password"`
	PasswordFile string `koanf:"password_file"`
}

// Bearer sends Authorization: Bearer TOKEN (RFC 6750).
type Bearer struct {
	Token     string `koanf:"token"`
	TokenFile string `koanf:"token_file"`
}

// AuthHeader sends a header of the user's naming with a secret value (an
// API key).
type AuthHeader struct {
	Name      string `koanf:"name"`
	Value     string `koanf:"value"`
	ValueFile string `koanf:"value_file"`
}

// Validate checks that one method is given, with its secret given once
// and its file readable.
func (a *Auth) Validate() error {
	var e conf.Errors
	n := 0
	for _, set := range []bool{a.Basic != nil, a.Bearer != nil, a.Header != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		e.Add("", "give one of basic, bearer or header")
	}
	secret := func(path, inline, file, what string) {
		if (inline == "") == (file == "") {
			e.Add(path, "give the %s inline or in %s_file, once", what, path)
			return
		}
		if e.Readable(path+"_file", file) && file != "" {
			if _, err := readSecret(file); err != nil {
				e.Add(path+"_file", "%v", err)
			}
		}
	}
	if b := a.Basic; b != nil {
		e.Required("basic.user", b.User, "the user name")
		secret("basic.password", b.Password, b.PasswordFile, "password")
	}
	if b := a.Bearer; b != nil {
		secret("bearer.token", b.Token, b.TokenFile, "token")
	}
	if h := a.Header; h != nil {
		if e.Required("header.name", h.Name, "the header's name, e.g. X-API-Key") && !validHeaderName(h.Name) {
			e.Add("header.name", "%q is not a header name", h.Name)
		}
		secret("header.value", h.Value, h.ValueFile, "value")
	}
	return e.Err()
}

// Authorizer sets the auth header of requests.
type Authorizer struct {
	name   string // header
	static string // value, when no file
	format func(secret string) string
	file   *secretFile
}

// NewAuthorizer reads the secret files (errors name the key) and makes the
// authorizer; a nil Auth sets nothing.
func NewAuthorizer(a *Auth) (*Authorizer, error) {
	if a == nil {
		return nil, nil
	}
	z := &Authorizer{name: "Authorization"}
	var inline, file, key string
	switch {
	case a.Basic != nil:
		user := a.Basic.User
		z.format = func(p string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+p)) }
		inline, file, key = a.Basic.Password, a.Basic.PasswordFile, "auth.basic.password_file"
	case a.Bearer != nil:
		z.format = func(t string) string { return "Bearer " + t }
		inline, file, key = a.Bearer.Token, a.Bearer.TokenFile, "auth.bearer.token_file"
	case a.Header != nil:
		z.name = a.Header.Name
		z.format = func(v string) string { return v }
		inline, file, key = a.Header.Value, a.Header.ValueFile, "auth.header.value_file"
	default:
		return nil, nil
	}
	if file == "" {
		z.static = z.format(inline)
		return z, nil
	}
	z.file = &secretFile{path: file}
	if _, err := z.file.get(time.Now()); err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	return z, nil
}

// Apply sets the header on h; an error means the secret file could not be
// read again (the request should wait and be retried).
func (z *Authorizer) Apply(h http.Header) error {
	if z == nil {
		return nil
	}
	v := z.static
	if z.file != nil {
		s, err := z.file.get(time.Now())
		if err != nil {
			return err
		}
		v = z.format(s)
	}
	h.Set(z.name, v)
	return nil
}

// secretFile is a secret kept in a file: looked at once a second at most,
// read again when its size or time changed. A file that cannot be read
// again keeps the value read last; one never read is an error.
type secretFile struct {
	path string

	mu      sync.Mutex
	checked time.Time
	size    int64
	mtime   time.Time
	value   string
	ok      bool
}

func (f *secretFile) get(now time.Time) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ok && now.Sub(f.checked) < time.Second {
		return f.value, nil
	}
	f.checked = now
	st, err := os.Stat(f.path)
	if err != nil {
		if f.ok {
			return f.value, nil
		}
		return "", err
	}
	if f.ok && st.Size() == f.size && st.ModTime().Equal(f.mtime) {
		return f.value, nil
	}
	v, err := readSecret(f.path)
	if err != nil {
		if f.ok {
			return f.value, nil
		}
		return "", err
	}
	f.value, f.size, f.mtime, f.ok = v, st.Size(), st.ModTime(), true
	return v, nil
}

// readSecret reads a secret file: its content without the whitespace
// around it, which must not be empty nor span lines.
func readSecret(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return "", fmt.Errorf("%s is empty", path)
	}
	if bytes.ContainsAny(b, "\r\n\x00") {
		return "", fmt.Errorf("%s holds more than one line", path)
	}
	return string(b), nil
}

// Header is the auth header's name and value (for gRPC metadata).
func (z *Authorizer) Header() (name, value string, err error) {
	h := make(map[string][]string, 1)
	if err := z.Apply(h); err != nil {
		return "", "", err
	}
	for k, v := range h {
		return k, v[0], nil
	}
	return "", "", nil
}

// NewSecretAuthorizer sets header name to prefix and a secret given inline
// or in file (read again when it changes), for an output's own kind of
// credential (Elasticsearch's "ApiKey " and its encoded key). key is the
// file's key path, for errors.
func NewSecretAuthorizer(name, prefix, inline, file, key string) (*Authorizer, error) {
	z := &Authorizer{name: name, format: func(s string) string { return prefix + s }}
	if file == "" {
		z.static = z.format(inline)
		return z, nil
	}
	z.file = &secretFile{path: file}
	if _, err := z.file.get(time.Now()); err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	return z, nil
}
