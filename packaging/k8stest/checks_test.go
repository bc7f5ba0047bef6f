package k8stest

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Each mutation breaks one thing the checks stand for, on a fresh copy of the
// real manifests; Check must name it.
func TestChecksCatchMistakes(t *testing.T) {
	edge := func(s *Set) *appsv1.DaemonSet {
		return s.Find("DaemonSet", "capstan", "capstan-edge").Obj.(*appsv1.DaemonSet)
	}
	core := func(s *Set) *appsv1.StatefulSet {
		return s.Find("StatefulSet", "capstan", "capstan-core").Obj.(*appsv1.StatefulSet)
	}
	sidecar := func(s *Set) *appsv1.Deployment {
		return s.Find("Deployment", "", "app-with-capstan").Obj.(*appsv1.Deployment)
	}
	edgeC := func(s *Set) *corev1.Container { return &edge(s).Spec.Template.Spec.Containers[0] }
	coreC := func(s *Set) *corev1.Container { return &core(s).Spec.Template.Spec.Containers[0] }
	mount := func(c *corev1.Container, at string) *corev1.VolumeMount {
		for i := range c.VolumeMounts {
			if c.VolumeMounts[i].MountPath == at {
				return &c.VolumeMounts[i]
			}
		}
		t.Fatalf("container %s mounts nothing at %s", c.Name, at)
		return nil
	}
	editConfig := func(s *Set, ns, name, old, new string) {
		cm := s.Find("ConfigMap", ns, name).Obj.(*corev1.ConfigMap)
		text := cm.Data["capstan.yaml"]
		if !strings.Contains(text, old) {
			t.Fatalf("ConfigMap %s has no %q", name, old)
		}
		cm.Data["capstan.yaml"] = strings.Replace(text, old, new, 1)
	}
	int64p := func(v int64) *int64 { return &v }

	tests := []struct {
		name   string
		mutate func(s *Set)
		want   string
	}{
		{"edge namespace enforces baseline", func(s *Set) {
			s.Find("Namespace", "", "capstan").Meta.Labels["pod-security.kubernetes.io/enforce"] = "baseline"
		}, `namespace capstan enforces Pod Security "baseline"`},
		{"edge writes /var/log", func(s *Set) { mount(edgeC(s), "/var/log").ReadOnly = false }, "/var/log is mounted read-write"},
		{"edge without /var/log/pods", func(s *Set) {
			c := edgeC(s)
			var kept []corev1.VolumeMount
			for _, m := range c.VolumeMounts {
				if m.MountPath != "/var/log/pods" {
					kept = append(kept, m)
				}
			}
			c.VolumeMounts = kept
		}, "/var/log/pods is not mounted"},
		{"edge data dir read-only", func(s *Set) { mount(edgeC(s), "/var/lib/capstan").ReadOnly = true }, "data_dir /var/lib/capstan is mounted read-only"},
		{"edge data dir in the container", func(s *Set) {
			editConfig(s, "capstan", "capstan-edge", "data_dir: /var/lib/capstan", "data_dir: /tmp/capstan")
		}, "data_dir /tmp/capstan is not a mount"},
		{"edge data dir not on the node", func(s *Set) {
			for i, v := range edge(s).Spec.Template.Spec.Volumes {
				if v.Name == "data" {
					edge(s).Spec.Template.Spec.Volumes[i].VolumeSource = corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}
				}
			}
		}, "is not a hostPath"},
		{"liveness on the wrong path", func(s *Set) { edgeC(s).LivenessProbe.HTTPGet.Path = "/metrics" }, `livenessProbe path is "/metrics"`},
		{"readiness on another port", func(s *Set) { edgeC(s).ReadinessProbe.HTTPGet.Port = intstr.FromInt32(8080) }, "readinessProbe port 8080 is not capstan's http port 5171"},
		{"no readiness probe", func(s *Set) { coreC(s).ReadinessProbe = nil }, "has no readinessProbe"},
		{"http on loopback", func(s *Set) {
			editConfig(s, "capstan", "capstan-core", "address: 0.0.0.0:5171", "address: 127.0.0.1:5171")
		}, "listens on 127.0.0.1 only"},
		{"grace period below shutdown_grace", func(s *Set) { edge(s).Spec.Template.Spec.TerminationGracePeriodSeconds = int64p(30) }, "terminationGracePeriodSeconds 30 does not leave"},
		{"shutdown_grace raised past the grace period", func(s *Set) {
			editConfig(s, "capstan", "capstan-core", "shutdown_grace: 30s", "shutdown_grace: 2m")
		}, "shutdown_grace 2m0s"},
		{"grace period unset", func(s *Set) { core(s).Spec.Template.Spec.TerminationGracePeriodSeconds = nil }, "terminationGracePeriodSeconds is not set"},
		{"no memory limit", func(s *Set) { delete(edgeC(s).Resources.Limits, corev1.ResourceMemory) }, "no memory limit"},
		{"request above limit", func(s *Set) { coreC(s).Resources.Requests[corev1.ResourceCPU] = resource.MustParse("4") }, "cpu request 4 is above its limit 2"},
		{"no NODE_NAME", func(s *Set) {
			c := edgeC(s)
			for i := range c.Env {
				if c.Env[i].Name == "NODE_NAME" {
					c.Env[i].ValueFrom.FieldRef.FieldPath = "metadata.name"
				}
			}
		}, "no NODE_NAME from fieldRef spec.nodeName"},
		{"not every node", func(s *Set) {
			edge(s).Spec.Template.Spec.Tolerations = []corev1.Toleration{{Key: "node-role.kubernetes.io/control-plane", Operator: corev1.TolerationOpExists}}
		}, "no toleration {operator: Exists}"},
		{"edge reads its own namespace", func(s *Set) {
			editConfig(s, "capstan", "capstan-edge", "- /var/log/containers/*_capstan_*.log", "- /var/log/containers/*_kube-system_*.log")
		}, "does not exclude the logs of namespace capstan"},
		{"input outside every mount", func(s *Set) {
			editConfig(s, "capstan", "capstan-edge", "- /var/log/containers/*.log", "- /srv/logs/*.log")
		}, "include /srv/logs/*.log reads from no mount"},
		{"writable root", func(s *Set) { f := false; coreC(s).SecurityContext.ReadOnlyRootFilesystem = &f }, "readOnlyRootFilesystem must be true"},
		{"core spool on an emptyDir", func(s *Set) {
			sts := core(s)
			sts.Spec.VolumeClaimTemplates = nil
			sts.Spec.Template.Spec.Volumes = append(sts.Spec.Template.Spec.Volumes, corev1.Volume{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
		}, "is not a volumeClaimTemplate"},
		{"core volume smaller than its streams", func(s *Set) {
			core(s).Spec.VolumeClaimTemplates[0].Spec.Resources.Requests[corev1.ResourceStorage] = resource.MustParse("10Gi")
		}, "more than the data volume's 10737418240"},
		{"core Service not headless", func(s *Set) {
			s.Find("Service", "capstan", "capstan-core").Obj.(*corev1.Service).Spec.ClusterIP = ""
		}, "is not headless"},
		{"core Service on another port", func(s *Set) {
			s.Find("Service", "capstan", "capstan-core").Obj.(*corev1.Service).Spec.Ports[0].Port = 24224
		}, "has no port 5172 that reaches the forward input"},
		{"core without forward input", func(s *Set) {
			editConfig(s, "capstan", "capstan-core", "type: forward", "type: tcp")
		}, "has no forward input"},
		{"peer beyond the replicas", func(s *Set) { r := int32(1); core(s).Spec.Replicas = &r }, "has 1 replicas, so no pod capstan-core-1"},
		{"peer on the wrong port", func(s *Set) {
			editConfig(s, "capstan", "capstan-edge", "capstan-core-0.capstan-core.capstan.svc.cluster.local:5172", "capstan-core-0.capstan-core.capstan.svc.cluster.local:5171")
		}, "port 5171 is not the core's forward port 5172"},
		{"peer through a ClusterIP name", func(s *Set) {
			editConfig(s, "", "app-capstan", "capstan-core-0.capstan-core.capstan.svc.cluster.local:5172", "capstan-core.capstan:5172")
		}, "not <pod>.<service>.<namespace>.svc.cluster.local"},
		{"sidecar as a plain container", func(s *Set) {
			d := sidecar(s)
			c := d.Spec.Template.Spec.InitContainers[0]
			c.RestartPolicy = nil
			d.Spec.Template.Spec.InitContainers = nil
			d.Spec.Template.Spec.Containers = append(d.Spec.Template.Spec.Containers, c)
		}, "is not a native sidecar"},
		{"sidecar reads a volume no one writes", func(s *Set) {
			app := &sidecar(s).Spec.Template.Spec.Containers[0]
			app.VolumeMounts[0].ReadOnly = true
		}, "no application container writes volume app-logs"},
		{"sidecar spool larger than its emptyDir", func(s *Set) {
			for _, v := range sidecar(s).Spec.Template.Spec.Volumes {
				if v.Name == "capstan-data" {
					*v.EmptyDir.SizeLimit = resource.MustParse("128Mi")
				}
			}
		}, "more than the data volume's 134217728"},
		{"config without shutdown_grace", func(s *Set) {
			editConfig(s, "", "app-capstan", "shutdown_grace: 20s", "")
		}, "shutdown_grace is not set"},
		{"two capstan releases", func(s *Set) { coreC(s).Image = CapstanImage + "0.0.9" }, "deploy one capstan release everywhere"},
		{"config mounted from nowhere", func(s *Set) { coreC(s).Args = []string{"run", "-c", "/config/capstan.yaml"} }, "nothing is mounted at /config"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := load(t)
			tt.mutate(s)
			var msgs []string
			for _, err := range Check(s) {
				msgs = append(msgs, err.Error())
			}
			all := strings.Join(msgs, "\n")
			if !strings.Contains(all, tt.want) {
				t.Fatalf("Check did not report %q; it said:\n%s", tt.want, all)
			}
		})
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"4GiB", 4 << 30, true},
		{"256MiB", 256 << 20, true},
		{"512", 512, true},
		{"10 KB", 10000, true},
		{"1.5GiB", 0, false},
		{"lots", 0, false},
		{"-1MiB", 0, false},
	}
	for _, tt := range tests {
		got, err := parseSize(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parseSize(%q) = %d, %v; want %d, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestGlobRoot(t *testing.T) {
	for in, want := range map[string]string{
		"/var/log/containers/*.log": "/var/log/containers",
		"/var/log/**/*.log":         "/var/log",
		"/var/log/app/app.log":      "/var/log/app",
		"/var/log/app-[0-9].log":    "/var/log",
	} {
		if got := globRoot(in); got != want {
			t.Errorf("globRoot(%q) = %q, want %q", in, got, want)
		}
	}
}
