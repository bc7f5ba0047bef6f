package agent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"strings"
	"time"

	"github.com/capstan-agent/capstan/agent/config"
	"github.com/capstan-agent/capstan/component"
	"github.com/capstan-agent/capstan/component/conf"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"
)

// httpServer serves /healthz, /readyz, /metrics and, if asked, /debug/pprof/.
type httpServer struct {
	srv  *http.Server
	ln   net.Listener
	done chan struct{}
}

func startHTTP(h config.HTTP, a *Agent, log *zap.Logger) (*httpServer, error) {
	ln, err := net.Listen("tcp", h.Address)
	if err != nil {
		return nil, fmt.Errorf("http server: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", a.healthz)
	mux.HandleFunc("/readyz", a.readyz)
	mux.Handle("/metrics", promhttp.HandlerFor(a.metrics, promhttp.HandlerOpts{
		ErrorLog: zap.NewStdLog(log), ErrorHandling: promhttp.ContinueOnError,
	}))
	if h.Pprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	s := &httpServer{
		srv:  &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ErrorLog: zap.NewStdLog(log)},
		ln:   ln,
		done: make(chan struct{}),
	}
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("http server stopped", zap.Error(err))
		}
	}()
	log.Info("http server listening", zap.String("address", ln.Addr().String()), zap.Bool("pprof", h.Pprof))
	return s, nil
}

// addr is the address the server listens on ("" when there is none).
func (s *httpServer) addr() string {
	if s == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// close stops the server, letting requests in flight finish for a moment.
func (s *httpServer) close() {
	if s == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := s.srv.Shutdown(ctx); err != nil {
		s.srv.Close()
	}
	<-s.done
}

// HTTPAddr is the address the HTTP server listens on, "" when there is none.
func (a *Agent) HTTPAddr() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.http.addr()
}

// healthz says the process is alive and serving; a component that fails is
// restarted by the agent, not by the orchestrator, so it does not fail this.
func (a *Agent) healthz(w http.ResponseWriter, r *http.Request) {
	v := a.view.Load()
	if v.stopping {
		http.Error(w, "stopping", http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, "ok")
}

// readyz is 200 when the spool is open and every input is running and, if it
// can tell, listening; its body lists each component's state.
func (a *Agent) readyz(w http.ResponseWriter, r *http.Request) {
	ready, report := a.readiness()
	if !ready {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	fmt.Fprint(w, report)
}

// Ready reports whether the agent is ready, as /readyz does.
func (a *Agent) Ready() bool {
	ok, _ := a.readiness()
	return ok
}

// readiness is ready when the spool is open and every input and output is
// running; a component that is starting, restarting or degraded makes the
// agent not ready, and the report says which and why.
func (a *Agent) readiness() (bool, string) {
	v := a.view.Load()
	var b strings.Builder
	ready := true
	switch {
	case v.stopping:
		ready = false
		b.WriteString("agent: stopping\n")
	case v.spool == nil:
		ready = false
		b.WriteString("spool: not open\n")
	default:
		b.WriteString("spool: open\n")
		for _, st := range v.streams {
			for _, p := range st.Partitions() {
				if s := p.Stats(); s.Blocked {
					ready = false
					fmt.Fprintf(&b, "stream %s partition %d: degraded: full (%s of max_bytes share %s held by outputs behind); inputs wait (since %s)\n",
						s.Stream, s.Partition, conf.Size(s.Bytes), conf.Size(s.BudgetBytes), s.BlockedSince.UTC().Format(time.RFC3339))
				}
			}
		}
	}
	for _, u := range append(append([]*unit{}, v.inputs...), v.outputs...) {
		s := u.state()
		line := fmt.Sprintf("%s %s (%s): %s", u.id.Kind, u.id.Name, u.id.Type, s.state)
		if s.state != component.Running && !(v.stopping && s.state == component.Stopped) {
			ready = false
			if s.reason != "" {
				line += ": " + s.reason
			}
			line += fmt.Sprintf(" (since %s)", s.since.UTC().Format(time.RFC3339))
		}
		b.WriteString(line + "\n")
	}
	if ready {
		return true, "ready\n" + b.String()
	}
	return false, "not ready\n" + b.String()
}
