package component

// State is where a component is in its life, as /readyz and
// capstan_component_state show it.
type State string

// States.
const (
	// Starting: built, Run called, not Ready yet.
	Starting State = "starting"
	// Running: Ready and healthy.
	Running State = "running"
	// Degraded: running but not doing its job, with a reason (an output
	// that cannot deliver, an input that cannot read or whose stream is
	// full).
	Degraded State = "degraded"
	// Restarting: Run failed; the agent rebuilds and restarts it with backoff.
	Restarting State = "restarting"
	// Stopped: asked to stop (shutdown or reload) and returned.
	Stopped State = "stopped"
	// Unavailable: the type is not in this build.
	Unavailable State = "unavailable"
)

// States lists every state, in the order capstan_component_state shows them.
var States = []State{Starting, Running, Degraded, Restarting, Stopped, Unavailable}
