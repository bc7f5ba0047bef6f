package k8stest

import (
	"path"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// What each of capstan's three ways to run on Kubernetes needs beyond
// checkCommon: the edge DaemonSet, the core StatefulSet, the sidecar.

// checkEdge: the DaemonSet reads the node's logs read-only, keeps its spool
// on the node, runs on every node, and leaves capstan's own logs out.
func (w *workload) checkEdge(s *Set, ds *appsv1.DaemonSet) []error {
	var errs []error
	// hostPath volumes pass only the "privileged" Pod Security level.
	if nsObj := s.Find("Namespace", "", w.Meta.Namespace); nsObj != nil {
		if level, ok := nsObj.Meta.Labels["pod-security.kubernetes.io/enforce"]; ok && level != "privileged" {
			errs = append(errs, w.errorf("namespace %s enforces Pod Security %q, which refuses the edge's hostPath volumes", w.Meta.Namespace, level))
		}
	}
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

func hasClaimTemplate(sts *appsv1.StatefulSet, name string) bool {
	for _, pvc := range sts.Spec.VolumeClaimTemplates {
		if pvc.Name == name {
			return true
		}
	}
	return false
}
