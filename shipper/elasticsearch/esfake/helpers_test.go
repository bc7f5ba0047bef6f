package esfake

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

type answer struct {
	status int
	header http.Header
	body   string
}

// send posts body to path with the given headers ("Content-Type" defaults to
// application/x-ndjson) and returns the answer, with "took" zeroed.
func send(t *testing.T, s *Server, method, path string, body []byte, headers ...string) answer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, s.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatalf("request: %v", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/x-ndjson")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
		}
	}
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read answer of %s %s: %v", method, path, err)
	}
	return answer{resp.StatusCode, resp.Header, tookRE.ReplaceAllString(string(b), `"took":0`)}
}

var tookRE = regexp.MustCompile(`"took":\d+`)

func bulk(t *testing.T, s *Server, body string, headers ...string) answer {
	t.Helper()
	return send(t, s, http.MethodPost, "/_bulk", []byte(body), headers...)
}

// reqError is the body of a request-level error.
func reqError(status int, typ, reason string) string {
	return (&esError{Status: status, Type: typ, Reason: reason}).appendBodyString()
}

func (e *esError) appendBodyString() string { return string(e.appendBody(nil)) }

// items decodes a bulk answer's items as action → fields.
type itemAnswer struct {
	Action  string
	Index   string         `json:"_index"`
	ID      *string        `json:"_id"`
	Version int64          `json:"_version"`
	Result  string         `json:"result"`
	Status  int            `json:"status"`
	Error   map[string]any `json:"error"`
}

func items(t *testing.T, a answer) (errorsFlag bool, out []itemAnswer) {
	t.Helper()
	var resp struct {
		Errors bool                         `json:"errors"`
		Items  []map[string]json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal([]byte(a.body), &resp); err != nil {
		t.Fatalf("decode bulk answer %s: %v", a.body, err)
	}
	for _, m := range resp.Items {
		if len(m) != 1 {
			t.Fatalf("item with %d keys: %v", len(m), m)
		}
		for action, raw := range m {
			var it itemAnswer
			if err := json.Unmarshal(raw, &it); err != nil {
				t.Fatalf("decode item %s: %v", raw, err)
			}
			it.Action = action
			out = append(out, it)
		}
	}
	return resp.Errors, out
}

func basic(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

func ndjson(lines ...string) string { return strings.Join(lines, "\n") + "\n" }
