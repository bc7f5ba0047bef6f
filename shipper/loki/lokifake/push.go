package lokifake

import (
	"bytes"
	"compress/flate"
	"crypto/tls"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"time"

	"github.com/klauspost/compress/gzip"
)

// Fault disturbs the answer to one push. Faults are queued with Script and
// taken one per push, in arrival order, once the tenant is known (a 401
// does not consume one).
type Fault struct {
	// Status answers the push with this status, storing nothing. 429 is
	// Loki's ingestion rate limit answer, given after validation as Loki
	// gives it; any other status is answered with Body, or with a message
	// like Loki's for it (413 "message size too large than max", 500 an
	// ingester RPC error, 503 "too many unhealthy instances in the ring").
	Status int
	Body   string
	// Reset closes the connection with a TCP RST before anything is stored.
	Reset bool
	// ResetAfterApply stores the push, then closes the connection with a RST
	// instead of answering: the client cannot know it landed.
	ResetAfterApply bool
	// Hang holds the push, storing nothing, until the client goes away or
	// the fake is closed.
	Hang bool
	// Delay stores the push, then waits this long (or until the client goes
	// away) before answering.
	Delay time.Duration
}

// Script queues faults for the next pushes, one each, in order.
func (f *Fake) Script(faults ...Fault) {
	f.mu.Lock()
	f.script = append(f.script, faults...)
	f.mu.Unlock()
}

// Pending returns how many scripted faults are not yet consumed.
func (f *Fake) Pending() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.script)
}

func (f *Fake) nextFault() Fault {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.script) == 0 {
		return Fault{}
	}
	ft := f.script[0]
	f.script = f.script[1:]
	return ft
}

func statusBody(status int) string {
	switch status {
	case http.StatusInternalServerError:
		return "rpc error: code = Internal desc = lokifake: injected ingester failure"
	case http.StatusServiceUnavailable:
		return "too many unhealthy instances in the ring"
	}
	return fmt.Sprintf("lokifake: injected status %d", status)
}

type pushState struct {
	wire, plain, raw []byte
	req              pushRequest
}

func (f *Fake) servePush(w http.ResponseWriter, r *http.Request) {
	if !f.gateway(r) {
		w.Header().Set("WWW-Authenticate", `Basic realm="Loki"`)
		f.answer(w, http.StatusUnauthorized, "401 Unauthorized", 0)
		return
	}
	tenantID, status, msg := f.tenantID(r)
	if status != 0 {
		f.answer(w, status, msg, 0)
		return
	}
	st, _ := f.bufs.Get().(*pushState)
	if st == nil {
		st = &pushState{}
	}
	defer f.bufs.Put(st)
	wire, status, msg := f.readPush(r, st)
	if status != 0 {
		f.answer(w, status, msg, wire)
		return
	}
	fault := f.nextFault()
	switch {
	case fault.Reset:
		f.answer(discard{}, 0, "", wire)
		resetConn(w)
		return
	case fault.Hang:
		f.answer(discard{}, 0, "", wire)
		select {
		case <-r.Context().Done():
		case <-f.closing:
		}
		return
	case fault.Status != 0 && fault.Status != http.StatusTooManyRequests:
		body := fault.Body
		switch {
		case body != "":
		case fault.Status == http.StatusRequestEntityTooLarge:
			body = fmt.Sprintf("message size too large than max (%d vs %d)", wire, f.opts.MaxRequestBytes)
		default:
			body = statusBody(fault.Status)
		}
		f.answer(w, fault.Status, body, wire)
		return
	}
	status, msg = f.ingest(tenantID, &st.req, fault.Status == http.StatusTooManyRequests)
	if fault.Delay > 0 {
		t := time.NewTimer(fault.Delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
		case <-f.closing:
		}
		t.Stop()
	}
	if fault.ResetAfterApply {
		f.answer(discard{}, 0, "", wire)
		resetConn(w)
		return
	}
	f.answer(w, status, msg, wire)
}

// readPush reads, decompresses and decodes the body into st.req. A non-zero
// status is the answer Loki gives to a body it cannot take.
func (f *Fake) readPush(r *http.Request, st *pushState) (wire int64, status int, msg string) {
	max, maxPlain := f.opts.MaxRequestBytes, f.opts.MaxDecompressedBytes
	if r.ContentLength > max {
		return 0, http.StatusRequestEntityTooLarge, fmt.Sprintf("message size too large than max (%d vs %d)", r.ContentLength, max)
	}
	buf := bytes.NewBuffer(st.wire[:0])
	n, err := buf.ReadFrom(io.LimitReader(r.Body, max+1))
	st.wire = buf.Bytes()
	wire = n
	if err != nil {
		return wire, http.StatusBadRequest, fmt.Sprintf("read request body: %v", err)
	}
	if n > max {
		return wire, http.StatusRequestEntityTooLarge, fmt.Sprintf("message size too large than max (%d vs %d)", n, max)
	}
	body := st.wire
	switch enc := r.Header.Get("Content-Encoding"); enc {
	case "", "snappy":
		// snappy is undone below for protobuf; clients set it needlessly.
	case "gzip", "deflate":
		var zr io.Reader
		if enc == "gzip" {
			gz, err := gzip.NewReader(bytes.NewReader(body))
			if err != nil {
				return wire, http.StatusBadRequest, err.Error()
			}
			zr = gz
		} else {
			zr = flate.NewReader(bytes.NewReader(body))
		}
		pb := bytes.NewBuffer(st.plain[:0])
		n, err := pb.ReadFrom(io.LimitReader(zr, maxPlain+1))
		st.plain = pb.Bytes()
		if err != nil {
			return wire, http.StatusBadRequest, err.Error()
		}
		if n > maxPlain {
			return wire, http.StatusBadRequest, fmt.Sprintf("decompressed message size too large than max (%d vs %d)", n, maxPlain)
		}
		body = st.plain
	default:
		return wire, http.StatusBadRequest, fmt.Sprintf("Content-Encoding %q not supported", enc)
	}
	ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return wire, http.StatusBadRequest, err.Error()
	}
	if ct == "application/json" {
		err = decodeJSONPush(body, &st.req)
		f.countDecoded(len(body))
	} else {
		// No Content-Type, application/x-protobuf or anything else: a
		// snappy block-compressed PushRequest.
		var dl int
		if dl, err = snappyDecodedLen(body); err == nil {
			if int64(dl) > maxPlain {
				return wire, http.StatusBadRequest, fmt.Sprintf("decompressed message size too large than max (%d vs %d)", dl, maxPlain)
			}
			if st.raw, err = snappyDecode(st.raw[:cap(st.raw)], body); err == nil {
				f.countDecoded(len(st.raw))
				err = decodePush(st.raw, &st.req, f.opts.StorageOff)
			}
		}
	}
	if err != nil {
		return wire, http.StatusBadRequest, err.Error()
	}
	return wire, 0, ""
}

func (f *Fake) countDecoded(n int) {
	f.mu.Lock()
	f.stats.BytesDecoded += int64(n)
	f.mu.Unlock()
}

// discard is a ResponseWriter for counting an answer never written.
type discard struct{}

func (discard) Header() http.Header         { return http.Header{} }
func (discard) Write(b []byte) (int, error) { return len(b), nil }
func (discard) WriteHeader(int)             {}

// resetConn drops the connection with a TCP RST (SO_LINGER 0).
func resetConn(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic("lokifake: the ResponseWriter cannot be hijacked (HTTP/2?)")
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		return
	}
	raw := conn
	if tc, ok := conn.(*tls.Conn); ok {
		raw = tc.NetConn()
	}
	if tcp, ok := raw.(*net.TCPConn); ok {
		tcp.SetLinger(0)
	}
	raw.Close()
}
