package k8stest

import (
	"fmt"
	"path"
	"reflect"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// requiredFields is the part of the API server's validation that a strict
// decode cannot do: fields that must be present, names that must be DNS
// names, references inside one object that must resolve. It is not all of
// Kubernetes' validation (that lives in k8s.io/kubernetes, which is not a
// library), only what these manifests could plausibly get wrong.
func requiredFields(o Object) []error {
	var errs []error
	fail := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", o.Ref(), fmt.Sprintf(format, args...)))
	}
	meta := field.NewPath("metadata")
	if o.Meta.Name == "" {
		fail("metadata.name is required")
	} else {
		nameCheck := validation.IsDNS1123Subdomain
		if o.GVK.Kind == "Service" || o.GVK.Kind == "Namespace" {
			nameCheck = validation.IsDNS1123Label
		}
		for _, msg := range nameCheck(o.Meta.Name) {
			fail("metadata.name %q: %s", o.Meta.Name, msg)
		}
	}
	if o.Meta.Namespace != "" {
		for _, msg := range validation.IsDNS1123Label(o.Meta.Namespace) {
			fail("metadata.namespace %q: %s", o.Meta.Namespace, msg)
		}
	}
	for _, e := range metav1validation.ValidateLabels(o.Meta.Labels, meta.Child("labels")) {
		fail("%v", e)
	}

	switch obj := o.Obj.(type) {
	case *corev1.ConfigMap:
		if len(obj.Data) == 0 && len(obj.BinaryData) == 0 {
			fail("data is empty")
		}
		for k := range obj.Data {
			for _, msg := range validation.IsConfigMapKey(k) {
				fail("data key %q: %s", k, msg)
			}
		}
	case *corev1.Service:
		errs = append(errs, serviceFields(o, obj)...)
	case *appsv1.DaemonSet:
		errs = append(errs, workloadFields(o, obj.Spec.Selector, &obj.Spec.Template)...)
	case *appsv1.StatefulSet:
		var claims []string
		for _, pvc := range obj.Spec.VolumeClaimTemplates {
			claims = append(claims, pvc.Name)
		}
		errs = append(errs, workloadFields(o, obj.Spec.Selector, &obj.Spec.Template, claims...)...)
		for i, pvc := range obj.Spec.VolumeClaimTemplates {
			if pvc.Name == "" {
				fail("volumeClaimTemplates[%d].metadata.name is required", i)
			}
			if len(pvc.Spec.AccessModes) == 0 {
				fail("volumeClaimTemplates[%d].spec.accessModes is required", i)
			}
			if _, ok := pvc.Spec.Resources.Requests[corev1.ResourceStorage]; !ok {
				fail("volumeClaimTemplates[%d].spec.resources.requests.storage is required", i)
			}
		}
	case *appsv1.Deployment:
		errs = append(errs, workloadFields(o, obj.Spec.Selector, &obj.Spec.Template)...)
	}
	return errs
}

func serviceFields(o Object, svc *corev1.Service) []error {
	var errs []error
	fail := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", o.Ref(), fmt.Sprintf(format, args...)))
	}
	if len(svc.Spec.Ports) == 0 {
		fail("spec.ports is required")
	}
	if len(svc.Spec.Selector) == 0 {
		fail("spec.selector is required (these manifests have no Endpoints of their own)")
	}
	names := map[string]bool{}
	for i, p := range svc.Spec.Ports {
		if p.Port < 1 || p.Port > 65535 {
			fail("spec.ports[%d].port %d is not a port", i, p.Port)
		}
		if len(svc.Spec.Ports) > 1 && p.Name == "" {
			fail("spec.ports[%d].name is required when a Service has several ports", i)
		}
		if p.Name != "" {
			for _, msg := range validation.IsValidPortName(p.Name) {
				fail("spec.ports[%d].name %q: %s", i, p.Name, msg)
			}
			if names[p.Name] {
				fail("spec.ports[%d].name %q is used twice", i, p.Name)
			}
			names[p.Name] = true
		}
	}
	return errs
}

// claims are the names of a StatefulSet's volumeClaimTemplates, which its
// containers mount like volumes.
func workloadFields(o Object, sel *metav1.LabelSelector, tmpl *corev1.PodTemplateSpec, claims ...string) []error {
	var errs []error
	fail := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", o.Ref(), fmt.Sprintf(format, args...)))
	}
	if sel == nil || (len(sel.MatchLabels) == 0 && len(sel.MatchExpressions) == 0) {
		fail("spec.selector is required")
	} else {
		s, err := metav1.LabelSelectorAsSelector(sel)
		if err != nil {
			fail("spec.selector: %v", err)
		} else if !s.Matches(labels.Set(tmpl.Labels)) {
			fail("spec.selector %v does not match the pod template's labels %v", s, tmpl.Labels)
		}
	}
	for _, e := range metav1validation.ValidateLabels(tmpl.Labels, field.NewPath("spec", "template", "metadata", "labels")) {
		fail("%v", e)
	}
	for _, e := range podSpecFields(&tmpl.Spec, claims) {
		fail("spec.template.spec: %v", e)
	}
	return errs
}

func podSpecFields(spec *corev1.PodSpec, claims []string) []error {
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if len(spec.Containers) == 0 {
		fail("containers: at least one is required")
	}
	volumes := map[string]bool{}
	for _, c := range claims {
		volumes[c] = true
	}
	for i := range spec.Volumes {
		v := &spec.Volumes[i]
		if v.Name == "" {
			fail("volumes[%d].name is required", i)
		}
		if volumes[v.Name] {
			fail("volumes[%d].name %q is used twice", i, v.Name)
		}
		volumes[v.Name] = true
		if n := setFields(v.VolumeSource); n != 1 {
			fail("volume %q: exactly one volume source is required, found %d", v.Name, n)
		}
		if v.HostPath != nil && !path.IsAbs(v.HostPath.Path) {
			fail("volume %q: hostPath.path %q is not absolute", v.Name, v.HostPath.Path)
		}
	}
	names := map[string]bool{}
	check := func(kind string, c *corev1.Container) {
		where := fmt.Sprintf("%s %q", kind, c.Name)
		if c.Name == "" {
			fail("%s: name is required", kind)
		}
		for _, msg := range validation.IsDNS1123Label(c.Name) {
			fail("%s: name: %s", where, msg)
		}
		if names[c.Name] {
			fail("%s: name is used twice in the pod", where)
		}
		names[c.Name] = true
		if c.Image == "" {
			fail("%s: image is required", where)
		}
		ports := map[string]bool{}
		for _, p := range c.Ports {
			if p.ContainerPort < 1 || p.ContainerPort > 65535 {
				fail("%s: containerPort %d is not a port", where, p.ContainerPort)
			}
			if p.Name != "" {
				for _, msg := range validation.IsValidPortName(p.Name) {
					fail("%s: port name %q: %s", where, p.Name, msg)
				}
				ports[p.Name] = true
			}
		}
		for _, m := range c.VolumeMounts {
			if !volumes[m.Name] {
				fail("%s: volumeMount %q names no volume of the pod", where, m.Name)
			}
			if !path.IsAbs(m.MountPath) {
				fail("%s: mountPath %q is not absolute", where, m.MountPath)
			}
		}
		for _, e := range c.Env {
			if e.Name == "" {
				fail("%s: env name is required", where)
			}
			if e.ValueFrom != nil && setFields(*e.ValueFrom) != 1 {
				fail("%s: env %s: valueFrom needs exactly one source", where, e.Name)
			}
			if e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "" {
				fail("%s: env %s: fieldRef.fieldPath is required", where, e.Name)
			}
		}
		for name, p := range map[string]*corev1.Probe{"livenessProbe": c.LivenessProbe, "readinessProbe": c.ReadinessProbe, "startupProbe": c.StartupProbe} {
			if p == nil {
				continue
			}
			if n := setFields(p.ProbeHandler); n != 1 {
				fail("%s: %s needs exactly one handler, found %d", where, name, n)
			}
			if p.HTTPGet != nil && p.HTTPGet.Port.Type == intstr.String && !ports[p.HTTPGet.Port.StrVal] {
				fail("%s: %s port %q is not a named port of the container", where, name, p.HTTPGet.Port.StrVal)
			}
		}
	}
	for i := range spec.InitContainers {
		c := &spec.InitContainers[i]
		check("initContainer", c)
		if c.RestartPolicy != nil && *c.RestartPolicy != corev1.ContainerRestartPolicyAlways {
			fail("initContainer %q: restartPolicy may only be Always", c.Name)
		}
	}
	for i := range spec.Containers {
		check("container", &spec.Containers[i])
	}
	return errs
}

// setFields counts the non-nil pointer fields of a struct: the members of a
// one-of such as VolumeSource, ProbeHandler or EnvVarSource.
func setFields(v any) int {
	rv := reflect.ValueOf(v)
	n := 0
	for i := 0; i < rv.NumField(); i++ {
		if f := rv.Field(i); f.Kind() == reflect.Pointer && !f.IsNil() {
			n++
		}
	}
	return n
}
