package k8stest

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
)

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
