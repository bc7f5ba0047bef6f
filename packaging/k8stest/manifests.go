package k8stest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	kjson "sigs.k8s.io/json"
	sigsyaml "sigs.k8s.io/yaml"
)

// Object is one document of a manifest file, decoded into its API type.
type Object struct {
	File  string // base name of the manifest file
	Index int    // position of the document in the file, from 0
	GVK   schema.GroupVersionKind
	Meta  *metav1.ObjectMeta
	Obj   any // *corev1.ConfigMap, *appsv1.DaemonSet, ...
}

// Ref names an object the way error messages do: file#index Kind ns/name.
func (o Object) Ref() string {
	name := o.Meta.Name
	if o.Meta.Namespace != "" {
		name = o.Meta.Namespace + "/" + name
	}
	return fmt.Sprintf("%s#%d %s %s", o.File, o.Index, o.GVK.Kind, name)
}

// Set is every object of a directory of manifests.
type Set struct {
	Objects []Object
}

// kinds are the API types capstan's manifests may use. Anything else is an
// error: a typo in kind or apiVersion must not slip through as "unknown, skipped".
var kinds = map[schema.GroupVersionKind]func() (any, *metav1.ObjectMeta){
	{Version: "v1", Kind: "Namespace"}: func() (any, *metav1.ObjectMeta) {
		o := &corev1.Namespace{}
		return o, &o.ObjectMeta
	},
	{Version: "v1", Kind: "ConfigMap"}: func() (any, *metav1.ObjectMeta) {
		o := &corev1.ConfigMap{}
		return o, &o.ObjectMeta
	},
	{Version: "v1", Kind: "Service"}: func() (any, *metav1.ObjectMeta) {
		o := &corev1.Service{}
		return o, &o.ObjectMeta
	},
	{Version: "v1", Kind: "ServiceAccount"}: func() (any, *metav1.ObjectMeta) {
		o := &corev1.ServiceAccount{}
		return o, &o.ObjectMeta
	},
	{Group: "apps", Version: "v1", Kind: "DaemonSet"}: func() (any, *metav1.ObjectMeta) {
		o := &appsv1.DaemonSet{}
		return o, &o.ObjectMeta
	},
	{Group: "apps", Version: "v1", Kind: "StatefulSet"}: func() (any, *metav1.ObjectMeta) {
		o := &appsv1.StatefulSet{}
		return o, &o.ObjectMeta
	},
	{Group: "apps", Version: "v1", Kind: "Deployment"}: func() (any, *metav1.ObjectMeta) {
		o := &appsv1.Deployment{}
		return o, &o.ObjectMeta
	},
}

// LoadDir decodes every *.yaml file of dir, in name order (the order
// `kubectl apply -f dir` uses).
func LoadDir(dir string) (*Set, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, fmt.Errorf("list manifests in %s: %w", dir, err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no *.yaml manifests in %s", dir)
	}
	sort.Strings(files)
	set := &Set{}
	var errs []error
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("read manifest: %w", err)
		}
		objs, err := Decode(filepath.Base(f), data)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		set.Objects = append(set.Objects, objs...)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return set, nil
}

// Decode splits a manifest file into its YAML documents and decodes each one
// strictly: unknown fields, fields in the wrong case, duplicate keys, wrong
// types and unknown kinds are all errors, as with the API server's
// fieldValidation=Strict. Documents that hold only comments are skipped, as
// kubectl does. Every error of the file is returned at once.
func Decode(file string, data []byte) ([]Object, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var objs []Object
	var errs []error
	for index := 0; ; index++ {
		doc, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: split documents: %w", file, err)
		}
		obj, err := decodeDocument(file, index, doc)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if obj != nil {
			objs = append(objs, *obj)
		}
	}
	return objs, errors.Join(errs...)
}

func decodeDocument(file string, index int, doc []byte) (*Object, error) {
	js, err := sigsyaml.YAMLToJSONStrict(doc)
	if err != nil {
		return nil, fmt.Errorf("%s#%d: %w", file, index, err)
	}
	if s := strings.TrimSpace(string(js)); s == "null" || s == "" {
		return nil, nil // comments only
	}
	var tm metav1.TypeMeta
	if err := kjson.UnmarshalCaseSensitivePreserveInts(js, &tm); err != nil {
		return nil, fmt.Errorf("%s#%d: read apiVersion and kind: %w", file, index, err)
	}
	if tm.APIVersion == "" || tm.Kind == "" {
		return nil, fmt.Errorf("%s#%d: apiVersion and kind are required", file, index)
	}
	gv, err := schema.ParseGroupVersion(tm.APIVersion)
	if err != nil {
		return nil, fmt.Errorf("%s#%d: apiVersion %q: %w", file, index, tm.APIVersion, err)
	}
	gvk := gv.WithKind(tm.Kind)
	newObj, ok := kinds[gvk]
	if !ok {
		return nil, fmt.Errorf("%s#%d: %s %s is not a kind these manifests may use", file, index, tm.APIVersion, tm.Kind)
	}
	into, meta := newObj()
	strictErrs, err := kjson.UnmarshalStrict(js, into)
	if err != nil {
		return nil, fmt.Errorf("%s#%d %s: %w", file, index, tm.Kind, err)
	}
	if len(strictErrs) > 0 {
		return nil, fmt.Errorf("%s#%d %s: %w", file, index, tm.Kind, errors.Join(strictErrs...))
	}
	obj := &Object{File: file, Index: index, GVK: gvk, Meta: meta, Obj: into}
	if errs := requiredFields(*obj); len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return obj, nil
}

// Find returns the object of that kind, namespace and name, or nil.
func (s *Set) Find(kind, namespace, name string) *Object {
	for i := range s.Objects {
		o := &s.Objects[i]
		if o.GVK.Kind == kind && o.Meta.Namespace == namespace && o.Meta.Name == name {
			return o
		}
	}
	return nil
}

// OfKind returns every object of a kind, in load order.
func (s *Set) OfKind(kind string) []Object {
	var out []Object
	for _, o := range s.Objects {
		if o.GVK.Kind == kind {
			out = append(out, o)
		}
	}
	return out
}
