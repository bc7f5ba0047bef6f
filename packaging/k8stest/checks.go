package k8stest

import (
	"fmt"
	"path"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// CapstanImage is how the checks recognise capstan's container in a pod.
const CapstanImage = "ghcr.io/capstan-agent/capstan:"

// drainMargin is what the pod's grace period must leave above capstan's
// shutdown_grace: stopping inputs, flushing the spool and writing checkpoints
// happen around the outputs' drain.
const drainMargin = 10

// workload is a DaemonSet, StatefulSet or Deployment that runs capstan.
type workload struct {
	Object
	Template *corev1.PodTemplateSpec
	Capstan  *corev1.Container
	Sidecar  bool // capstan is a native sidecar (an init container)
	Config   configFile
}

// Check runs every capstan-specific check over a set of manifests and
// returns all the problems it finds.
func Check(s *Set) []error {
	var errs []error
	var all []*workload
	for _, o := range s.Objects {
		var tmpl *corev1.PodTemplateSpec
		switch obj := o.Obj.(type) {
		case *appsv1.DaemonSet:
			tmpl = &obj.Spec.Template
		case *appsv1.StatefulSet:
			tmpl = &obj.Spec.Template
		case *appsv1.Deployment:
			tmpl = &obj.Spec.Template
		default:
			continue
		}
		w, err := newWorkload(s, o, tmpl)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		all = append(all, w)
		errs = append(errs, w.checkCommon()...)
		switch obj := o.Obj.(type) {
		case *appsv1.DaemonSet:
			errs = append(errs, w.checkEdge(s, obj)...)
		case *appsv1.StatefulSet:
			errs = append(errs, w.checkCore(s, obj)...)
		case *appsv1.Deployment:
			errs = append(errs, w.checkSidecar()...)
		}
	}
	errs = append(errs, checkPeers(s, all)...)
	errs = append(errs, checkOneImage(all)...)
	return errs
}

// checkOneImage: edges, cores and sidecars speak one protocol version; a
// release bumps every image tag together.
func checkOneImage(all []*workload) []error {
	var errs []error
	for _, w := range all[min(1, len(all)):] {
		if w.Capstan.Image != all[0].Capstan.Image {
			errs = append(errs, w.errorf("image %s differs from %s in %s: deploy one capstan release everywhere", w.Capstan.Image, all[0].Capstan.Image, all[0].Ref()))
		}
	}
	return errs
}

func newWorkload(s *Set, o Object, tmpl *corev1.PodTemplateSpec) (*workload, error) {
	w := &workload{Object: o, Template: tmpl}
	spec := &tmpl.Spec
	for i := range spec.Containers {
		if strings.HasPrefix(spec.Containers[i].Image, CapstanImage) {
			w.Capstan = &spec.Containers[i]
		}
	}
	for i := range spec.InitContainers {
		if strings.HasPrefix(spec.InitContainers[i].Image, CapstanImage) {
			w.Capstan, w.Sidecar = &spec.InitContainers[i], true
		}
	}
	if w.Capstan == nil {
		return nil, fmt.Errorf("%s: no container runs %s*", o.Ref(), CapstanImage)
	}
	cfg, err := w.findConfig(s)
	if err != nil {
		return nil, fmt.Errorf("%s: container %s: %w", o.Ref(), w.Capstan.Name, err)
	}
	w.Config = cfg
	return w, nil
}

// findConfig follows `run -c FILE` to the ConfigMap mounted at FILE's directory.
func (w *workload) findConfig(s *Set) (configFile, error) {
	args := append(append([]string{}, w.Capstan.Command...), w.Capstan.Args...)
	file := ""
	for i, a := range args {
		if (a == "-c" || a == "--config") && i+1 < len(args) {
			file = args[i+1]
		}
	}
	if file == "" {
		return configFile{}, fmt.Errorf("args %q name no configuration file (-c FILE)", args)
	}
	m := w.mountAt(path.Dir(file))
	if m == nil {
		return configFile{}, fmt.Errorf("configuration %s: nothing is mounted at %s", file, path.Dir(file))
	}
	v := w.volume(m.Name)
	if v == nil || v.ConfigMap == nil {
		return configFile{}, fmt.Errorf("configuration %s: volume %q is not a ConfigMap", file, m.Name)
	}
	if len(v.ConfigMap.Items) > 0 {
		return configFile{}, fmt.Errorf("configuration %s: ConfigMap volume %q remaps keys (items), which these checks do not follow", file, m.Name)
	}
	cmObj := s.Find("ConfigMap", w.Meta.Namespace, v.ConfigMap.Name)
	if cmObj == nil {
		return configFile{}, fmt.Errorf("configuration %s: ConfigMap %q is not in the manifests", file, v.ConfigMap.Name)
	}
	cm := cmObj.Obj.(*corev1.ConfigMap)
	key := path.Base(file)
	text, ok := cm.Data[key]
	if !ok {
		return configFile{}, fmt.Errorf("configuration %s: ConfigMap %q has no key %q", file, cm.Name, key)
	}
	cfg, err := parseConfig(text)
	if err != nil {
		return configFile{}, fmt.Errorf("ConfigMap %q key %q: %w", cm.Name, key, err)
	}
	return configFile{ConfigMap: cm, Key: key, Config: cfg}, nil
}

func (w *workload) mountAt(dir string) *corev1.VolumeMount {
	for i := range w.Capstan.VolumeMounts {
		if path.Clean(w.Capstan.VolumeMounts[i].MountPath) == path.Clean(dir) {
			return &w.Capstan.VolumeMounts[i]
		}
	}
	return nil
}

// mountFor is the deepest mount of the capstan container that holds p.
func (w *workload) mountFor(p string) *corev1.VolumeMount {
	var best *corev1.VolumeMount
	for i := range w.Capstan.VolumeMounts {
		m := &w.Capstan.VolumeMounts[i]
		if under(p, m.MountPath) && (best == nil || len(m.MountPath) > len(best.MountPath)) {
			best = m
		}
	}
	return best
}

func (w *workload) volume(name string) *corev1.Volume {
	for i := range w.Template.Spec.Volumes {
		if w.Template.Spec.Volumes[i].Name == name {
			return &w.Template.Spec.Volumes[i]
		}
	}
	return nil
}

func (w *workload) errorf(format string, args ...any) error {
	return fmt.Errorf("%s: %s", w.Ref(), fmt.Sprintf(format, args...))
}

// checkCommon holds for capstan in any pod: the data dir is a writable
// mount, the probes hit the agent's http port, resources are bounded, the
// grace period outlasts the drain, the node name is in the environment, the
// container is locked down, and every file input reads from a mount.
func (w *workload) checkCommon() []error {
	var errs []error
	cfg, c := w.Config.Config, w.Capstan

	if m := w.mountAt(cfg.DataDir); m == nil {
		errs = append(errs, w.errorf("data_dir %s is not a mount of container %s: the spool would live in the container's root", cfg.DataDir, c.Name))
	} else if m.ReadOnly {
		errs = append(errs, w.errorf("data_dir %s is mounted read-only", cfg.DataDir))
	}

	if port, err := cfg.httpPort(); err != nil {
		errs = append(errs, w.errorf("%v", err))
	} else {
		if !hasContainerPort(c, port) {
			errs = append(errs, w.errorf("container %s does not declare the http port %d", c.Name, port))
		}
		errs = append(errs, w.checkProbe("livenessProbe", c.LivenessProbe, "/healthz", port)...)
		errs = append(errs, w.checkProbe("readinessProbe", c.ReadinessProbe, "/readyz", port)...)
	}

	errs = append(errs, w.checkResources()...)

	grace := cfg.shutdownGrace()
	tgp := w.Template.Spec.TerminationGracePeriodSeconds
	switch {
	case tgp == nil:
		errs = append(errs, w.errorf("terminationGracePeriodSeconds is not set (default 30s); capstan's shutdown_grace is %s", grace))
	case float64(*tgp) < grace.Seconds()+drainMargin:
		errs = append(errs, w.errorf("terminationGracePeriodSeconds %d does not leave %ds above shutdown_grace %s: the kubelet would SIGKILL capstan mid-drain", *tgp, drainMargin, grace))
	}

	nodeName := false
	for _, e := range c.Env {
		if e.Name == "NODE_NAME" && e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "spec.nodeName" {
			nodeName = true
		}
	}
	if !nodeName {
		errs = append(errs, w.errorf("container %s has no NODE_NAME from fieldRef spec.nodeName", c.Name))
	}

	sc := c.SecurityContext
	if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		errs = append(errs, w.errorf("container %s: securityContext.readOnlyRootFilesystem must be true", c.Name))
	}
	if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		errs = append(errs, w.errorf("container %s: securityContext.allowPrivilegeEscalation must be false", c.Name))
	}
	if sc == nil || sc.Capabilities == nil || !containsCap(sc.Capabilities.Drop, "ALL") {
		errs = append(errs, w.errorf("container %s: securityContext.capabilities.drop must hold ALL", c.Name))
	}

	for name, in := range cfg.Inputs {
		if in.Type != "file" {
			continue
		}
		if len(in.Include) == 0 {
			errs = append(errs, w.errorf("input %s: no include patterns", name))
		}
		for _, g := range in.Include {
			if m := w.mountFor(globRoot(g)); m == nil || m.MountPath == "/" {
				errs = append(errs, w.errorf("input %s: include %s reads from no mount of container %s", name, g, c.Name))
			}
		}
	}

	if limit, ok := w.dataVolumeBytes(); ok {
		total, err := cfg.spoolBytes()
		switch {
		case err != nil:
			errs = append(errs, w.errorf("%v", err))
		case total == 0:
			errs = append(errs, w.errorf("a stream has no max_bytes, but the data volume holds only %d bytes", limit))
		case total >= limit:
			errs = append(errs, w.errorf("the streams' max_bytes add up to %d bytes, more than the data volume's %d", total, limit))
		}
	}
	return errs
}

func (w *workload) checkProbe(name string, p *corev1.Probe, wantPath string, port int32) []error {
	if p == nil {
		return []error{w.errorf("container %s has no %s", w.Capstan.Name, name)}
	}
	if p.HTTPGet == nil {
		return []error{w.errorf("container %s: %s is not an httpGet", w.Capstan.Name, name)}
	}
	var errs []error
	if p.HTTPGet.Path != wantPath {
		errs = append(errs, w.errorf("container %s: %s path is %q, capstan serves %s", w.Capstan.Name, name, p.HTTPGet.Path, wantPath))
	}
	if got, ok := resolvePort(w.Capstan, p.HTTPGet.Port); !ok || got != port {
		errs = append(errs, w.errorf("container %s: %s port %s is not capstan's http port %d", w.Capstan.Name, name, p.HTTPGet.Port.String(), port))
	}
	return errs
}

func (w *workload) checkResources() []error {
	var errs []error
	r := w.Capstan.Resources
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		req, hasReq := r.Requests[name]
		lim, hasLim := r.Limits[name]
		if !hasReq {
			errs = append(errs, w.errorf("container %s: no %s request", w.Capstan.Name, name))
		}
		if !hasLim {
			errs = append(errs, w.errorf("container %s: no %s limit", w.Capstan.Name, name))
		}
		if hasReq && hasLim && req.Cmp(lim) > 0 {
			errs = append(errs, w.errorf("container %s: %s request %s is above its limit %s", w.Capstan.Name, name, req.String(), lim.String()))
		}
	}
	return errs
}

// dataVolumeBytes is the size of the volume under data_dir, when it has one.
func (w *workload) dataVolumeBytes() (int64, bool) {
	m := w.mountAt(w.Config.Config.DataDir)
	if m == nil {
		return 0, false
	}
	if v := w.volume(m.Name); v != nil && v.EmptyDir != nil && v.EmptyDir.SizeLimit != nil {
		return v.EmptyDir.SizeLimit.Value(), true
	}
	if sts, ok := w.Obj.(*appsv1.StatefulSet); ok {
		for _, pvc := range sts.Spec.VolumeClaimTemplates {
			if q, ok := pvc.Spec.Resources.Requests[corev1.ResourceStorage]; ok && pvc.Name == m.Name {
				return q.Value(), true
			}
		}
	}
	return 0, false
}

func hasContainerPort(c *corev1.Container, port int32) bool {
	for _, p := range c.Ports {
		if p.ContainerPort == port {
			return true
		}
	}
	return false
}

// resolvePort turns a probe's or Service's port (number or name) into the
// container's port number.
func resolvePort(c *corev1.Container, p intstr.IntOrString) (int32, bool) {
	if p.Type == intstr.Int {
		return p.IntVal, true
	}
	for _, cp := range c.Ports {
		if cp.Name == p.StrVal {
			return cp.ContainerPort, true
		}
	}
	return 0, false
}

func containsCap(caps []corev1.Capability, want corev1.Capability) bool {
	for _, c := range caps {
		if c == want {
			return true
		}
	}
	return false
}
