package file

import (
	"regexp"

	"github.com/capstan-agent/capstan/spool/batch"
)

// Kubernetes log layouts. Namespaces and pod names are DNS labels and pod
// uids are UUIDs, so none contains '_', which the kubelet uses as separator.
var (
	// <root>/pods/<namespace>_<pod>_<uid>/<container>/<restart>.log[.<rotation stamp>]
	podsLayout = regexp.MustCompile(`/pods/([^/_]+)_([^/_]+)_([^/_]+)/([^/]+)/[0-9]+\.log[^/]*$`)
	// <root>/containers/<pod>_<namespace>_<container>-<64 hex id>.log
	containersLayout = regexp.MustCompile(`/containers/([^/_]+)_([^/_]+)_([^/]+)-([0-9a-f]{64})\.log$`)
)

// k8sAttrs derives Kubernetes metadata from a file's path and the path its
// symlinks resolve to (/var/log/containers links into /var/log/pods, which
// alone names the pod uid). It returns nil for other paths.
func k8sAttrs(path, resolved string) []batch.Attr {
	var ns, pod, uid, container, id string
	if m := podsLayout.FindStringSubmatch(resolved); m != nil {
		ns, pod, uid, container = m[1], m[2], m[3], m[4]
	} else if m := podsLayout.FindStringSubmatch(path); m != nil {
		ns, pod, uid, container = m[1], m[2], m[3], m[4]
	}
	if m := containersLayout.FindStringSubmatch(path); m != nil {
		pod, ns, container, id = m[1], m[2], m[3], m[4]
	}
	if pod == "" {
		return nil
	}
	attrs := []batch.Attr{
		batch.StringAttr("k8s.namespace.name", ns),
		batch.StringAttr("k8s.pod.name", pod),
	}
	if uid != "" {
		attrs = append(attrs, batch.StringAttr("k8s.pod.uid", uid))
	}
	attrs = append(attrs, batch.StringAttr("k8s.container.name", container))
	if id != "" {
		attrs = append(attrs, batch.StringAttr("container.id", id))
	}
	return attrs
}
