package k8stest

import (
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
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
			errs = append(errs, w.checkEdge(obj)...)
		case *appsv1.StatefulSet:
			errs = append(errs, w.checkCore(s, obj)...)
		case *appsv1.Deployment:
			errs = append(errs, w.checkSidecar()...)
		}
	}
	errs = append(errs, checkPeers(s, all)...)
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

// checkEdge: the DaemonSet reads the node's logs read-only, keeps its spool
// on the node, runs on every node, and leaves capstan's own logs out.
func (w *workload) checkEdge(ds *appsv1.DaemonSet) []error {
	var errs []error
	for _, dir := range []string{"/var/log", "/var/log/pods"} {
		m := w.mountAt(dir)
		if m == nil {
			errs = append(errs, w.errorf("%s is not mounted", dir))
			continue
		}
		if !m.ReadOnly {
			errs = append(errs, w.errorf("%s is mounted read-write: the edge only reads the node's logs", dir))
		}
		if v := w.volume(m.Name); v == nil || v.HostPath == nil || path.Clean(v.HostPath.Path) != dir {
			errs = append(errs, w.errorf("%s is not the node's %s (hostPath)", dir, dir))
		}
	}
	if m := w.mountAt(w.Config.Config.DataDir); m != nil {
		v := w.volume(m.Name)
		switch {
		case v == nil || v.HostPath == nil:
			errs = append(errs, w.errorf("data_dir %s is not a hostPath: the spool would not outlive the pod", w.Config.Config.DataDir))
		case under(v.HostPath.Path, "/var/log"):
			errs = append(errs, w.errorf("data dir hostPath %s is under /var/log, which the edge reads", v.HostPath.Path))
		case v.HostPath.Type == nil || *v.HostPath.Type != corev1.HostPathDirectoryOrCreate:
			errs = append(errs, w.errorf("data dir hostPath %s should be DirectoryOrCreate so a new node needs no preparation", v.HostPath.Path))
		}
	}
	everywhere := false
	for _, t := range ds.Spec.Template.Spec.Tolerations {
		if t.Operator == corev1.TolerationOpExists && t.Key == "" && t.Effect == "" {
			everywhere = true
		}
	}
	if !everywhere {
		errs = append(errs, w.errorf("no toleration {operator: Exists}: tainted nodes would ship no logs"))
	}
	own := "_" + w.Meta.Namespace + "_"
	for name, in := range w.Config.Config.Inputs {
		if in.Type != "file" {
			continue
		}
		excluded := false
		for _, x := range in.Exclude {
			if strings.Contains(x, own) {
				excluded = true
			}
		}
		if !excluded {
			errs = append(errs, w.errorf("input %s does not exclude the logs of namespace %s (*%s*): the edge would ship capstan's own output back in", name, w.Meta.Namespace, own))
		}
	}
	return errs
}

// checkCore: the StatefulSet keeps its spool on a claim of its own and is
// reachable through its headless Service on the forward port.
func (w *workload) checkCore(s *Set, sts *appsv1.StatefulSet) []error {
	var errs []error
	if m := w.mountAt(w.Config.Config.DataDir); m != nil {
		if w.volume(m.Name) != nil || !hasClaimTemplate(sts, m.Name) {
			errs = append(errs, w.errorf("data_dir %s is not a volumeClaimTemplate: the core's spool must survive the pod", w.Config.Config.DataDir))
		}
	}
	fwd, err := w.Config.Config.forwardPort()
	if err != nil {
		errs = append(errs, w.errorf("%v", err))
	} else if fwd == 0 {
		errs = append(errs, w.errorf("the core's configuration has no forward input"))
	} else if !hasContainerPort(w.Capstan, fwd) {
		errs = append(errs, w.errorf("container %s does not declare the forward port %d", w.Capstan.Name, fwd))
	}
	svcObj := s.Find("Service", w.Meta.Namespace, sts.Spec.ServiceName)
	if svcObj == nil {
		return append(errs, w.errorf("serviceName %q: no such Service in the manifests", sts.Spec.ServiceName))
	}
	svc := svcObj.Obj.(*corev1.Service)
	if svc.Spec.ClusterIP != corev1.ClusterIPNone {
		errs = append(errs, w.errorf("Service %s is not headless: edges need each core's own DNS name", svc.Name))
	}
	if !labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(sts.Spec.Template.Labels)) {
		errs = append(errs, w.errorf("Service %s selector %v does not select the core's pods", svc.Name, svc.Spec.Selector))
	}
	if fwd != 0 {
		found := false
		for _, p := range svc.Spec.Ports {
			target := p.TargetPort
			if target.Type == intstr.Int && target.IntVal == 0 {
				target = intstr.FromInt32(p.Port)
			}
			if got, ok := resolvePort(w.Capstan, target); ok && got == fwd && p.Port == fwd {
				found = true
			}
		}
		if !found {
			errs = append(errs, w.errorf("Service %s has no port %d that reaches the forward input", svc.Name, fwd))
		}
	}
	return errs
}

// checkSidecar: capstan runs next to the application as a native sidecar
// and reads the application's files from an emptyDir the application writes.
func (w *workload) checkSidecar() []error {
	var errs []error
	c := w.Capstan
	if !w.Sidecar || c.RestartPolicy == nil || *c.RestartPolicy != corev1.ContainerRestartPolicyAlways {
		errs = append(errs, w.errorf("capstan is not a native sidecar (initContainers with restartPolicy: Always): it could stop before the application's last lines"))
	}
	for name, in := range w.Config.Config.Inputs {
		if in.Type != "file" {
			continue
		}
		for _, g := range in.Include {
			m := w.mountFor(globRoot(g))
			if m == nil {
				continue // reported by checkCommon
			}
			if v := w.volume(m.Name); v == nil || v.EmptyDir == nil {
				errs = append(errs, w.errorf("input %s: %s is not an emptyDir shared with the application", name, m.MountPath))
				continue
			}
			if !m.ReadOnly {
				errs = append(errs, w.errorf("input %s: capstan mounts %s read-write; it only reads it", name, m.MountPath))
			}
			if !w.writtenByApp(m.Name) {
				errs = append(errs, w.errorf("input %s: no application container writes volume %s", name, m.Name))
			}
		}
	}
	return errs
}

func (w *workload) writtenByApp(volume string) bool {
	for _, c := range w.Template.Spec.Containers {
		if c.Name == w.Capstan.Name {
			continue
		}
		for _, m := range c.VolumeMounts {
			if m.Name == volume && !m.ReadOnly {
				return true
			}
		}
	}
	return false
}

// checkPeers: every forward endpoint is a core pod's stable DNS name
// (<statefulset>-<ordinal>.<service>.<namespace>.svc.cluster.local:<port>),
// with an ordinal below the StatefulSet's replicas and the core's forward port.
func checkPeers(s *Set, all []*workload) []error {
	var errs []error
	cores := map[string]*workload{} // namespace/name
	for _, w := range all {
		if _, ok := w.Obj.(*appsv1.StatefulSet); ok {
			cores[w.Meta.Namespace+"/"+w.Meta.Name] = w
		}
	}
	for _, w := range all {
		for name, out := range w.Config.Config.Outputs {
			if out.Type != "forward" {
				continue
			}
			if len(out.Endpoints) == 0 {
				errs = append(errs, w.errorf("output %s has no endpoints", name))
			}
			for _, peer := range out.Endpoints {
				if err := checkPeer(cores, peer); err != nil {
					errs = append(errs, w.errorf("output %s: endpoint %s: %v", name, peer, err))
				}
			}
		}
	}
	return errs
}

func checkPeer(cores map[string]*workload, peer string) error {
	host, port, ok := strings.Cut(peer, ":")
	if !ok {
		return errors.New("no port")
	}
	parts := strings.Split(host, ".")
	if len(parts) != 6 || parts[3] != "svc" || parts[4] != "cluster" || parts[5] != "local" {
		return errors.New("not <pod>.<service>.<namespace>.svc.cluster.local")
	}
	pod, svc, ns := parts[0], parts[1], parts[2]
	i := strings.LastIndex(pod, "-")
	if i < 0 {
		return fmt.Errorf("pod %s has no ordinal", pod)
	}
	ordinal, err := strconv.Atoi(pod[i+1:])
	if err != nil {
		return fmt.Errorf("pod %s has no ordinal", pod)
	}
	core := cores[ns+"/"+pod[:i]]
	if core == nil {
		return fmt.Errorf("no StatefulSet %s/%s runs capstan", ns, pod[:i])
	}
	sts := core.Obj.(*appsv1.StatefulSet)
	if sts.Spec.ServiceName != svc {
		return fmt.Errorf("StatefulSet %s is governed by Service %s, not %s", sts.Name, sts.Spec.ServiceName, svc)
	}
	replicas := int32(1)
	if sts.Spec.Replicas != nil {
		replicas = *sts.Spec.Replicas
	}
	if ordinal >= int(replicas) {
		return fmt.Errorf("StatefulSet %s has %d replicas, so no pod %s", sts.Name, replicas, pod)
	}
	fwd, err := core.Config.Config.forwardPort()
	if err != nil || fwd == 0 || port != strconv.Itoa(int(fwd)) {
		return fmt.Errorf("port %s is not the core's forward port %d", port, fwd)
	}
	return nil
}

func hasClaimTemplate(sts *appsv1.StatefulSet, name string) bool {
	for _, pvc := range sts.Spec.VolumeClaimTemplates {
		if pvc.Name == name {
			return true
		}
	}
	return false
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
