package main

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// edgeCore is the two agents of the edge → core tests, configured in dir:
// an edge (file input "app" → forward output "core") and a core (forward
// input "edges" → the test's outputs), each with its data dir (edge, core)
// and config (edge.yaml, core.yaml) there.
type edgeCore struct {
	t                  *testing.T
	dir                string
	coreData, edgeData string
	coreCfg, edgeCfg   string
}

// newEdgeCore writes the configs of an edge that tails include from the
// beginning, polling every poll, and forwards to a core on a free port
// whose outputs are outputs: YAML lines indented under "outputs:".
func newEdgeCore(t *testing.T, dir, include, poll, outputs string) *edgeCore {
	t.Helper()
	port := freeTestPort(t)
	ec := &edgeCore{t: t, dir: dir,
		coreData: filepath.Join(dir, "core"), edgeData: filepath.Join(dir, "edge"),
		coreCfg: filepath.Join(dir, "core.yaml"), edgeCfg: filepath.Join(dir, "edge.yaml")}
	core := fmt.Sprintf(`data_dir: %s
log: {format: json}
http: {address: "127.0.0.1:0"}
inputs:
  edges: {type: forward, listen: ["127.0.0.1:%d"]}
outputs:
%s`, ec.coreData, port, outputs)
	edge := fmt.Sprintf(`data_dir: %s
log: {format: json}
http: {address: "127.0.0.1:0"}
inputs:
  app: {type: file, include: [%q], start_at: beginning, poll_interval: %s}
outputs:
  core: {type: forward, endpoints: ["127.0.0.1:%d"], backoff: {initial: 20ms, max: 200ms}}
`, ec.edgeData, include, poll, port)
	if err := os.WriteFile(ec.coreCfg, []byte(core), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ec.edgeCfg, []byte(edge), 0o644); err != nil {
		t.Fatal(err)
	}
	return ec
}

// startCore starts the core and waits for it to have started.
func (ec *edgeCore) startCore() *agentProc { ec.t.Helper(); return ec.start(ec.coreCfg) }

// startEdge starts the edge and waits for it to have started.
func (ec *edgeCore) startEdge() *agentProc { ec.t.Helper(); return ec.start(ec.edgeCfg) }

func (ec *edgeCore) start(cfg string) *agentProc {
	ec.t.Helper()
	p := startAgent(ec.t, ec.dir, env(), "-c", cfg)
	p.waitLog("agent started")
	return p
}

// kill SIGKILLs p and waits for it to exit.
func kill(p *agentProc) {
	p.cmd.Process.Kill()
	p.wait()
}

// stopEdgeCore SIGTERMs the edge and the core and checks that both exit 0.
func stopEdgeCore(t *testing.T, edge, core *agentProc) {
	t.Helper()
	edge.signal(syscall.SIGTERM)
	core.signal(syscall.SIGTERM)
	if c := edge.wait(); c != 0 {
		t.Errorf("edge exit %d", c)
	}
	if c := core.wait(); c != 0 {
		t.Errorf("core exit %d", c)
	}
}
