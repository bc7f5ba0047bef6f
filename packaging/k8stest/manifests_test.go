package k8stest

import (
	"strings"
	"testing"
)

const manifestDir = "../kubernetes"

func load(t *testing.T) *Set {
	t.Helper()
	set, err := LoadDir(manifestDir)
	if err != nil {
		t.Fatalf("manifests do not decode strictly:\n%v", err)
	}
	return set
}

func TestManifestsDecodeStrictly(t *testing.T) {
	set := load(t)
	want := []struct{ kind, namespace, name string }{
		{"Namespace", "", "capstan"},
		{"ConfigMap", "capstan", "capstan-edge"},
		{"ServiceAccount", "capstan", "capstan-edge"},
		{"DaemonSet", "capstan", "capstan-edge"},
		{"ConfigMap", "capstan", "capstan-core"},
		{"Service", "capstan", "capstan-core"},
		{"ServiceAccount", "capstan", "capstan-core"},
		{"StatefulSet", "capstan", "capstan-core"},
		{"ConfigMap", "", "app-capstan"},
		{"Deployment", "", "app-with-capstan"},
	}
	for _, w := range want {
		if set.Find(w.kind, w.namespace, w.name) == nil {
			t.Errorf("%s %s/%s is missing from %s", w.kind, w.namespace, w.name, manifestDir)
		}
	}
	if len(set.Objects) != len(want) {
		var got []string
		for _, o := range set.Objects {
			got = append(got, o.Ref())
		}
		t.Errorf("%d objects, want %d: add the new ones to this test:\n%s", len(set.Objects), len(want), strings.Join(got, "\n"))
	}
}

func TestManifestsPassCapstanChecks(t *testing.T) {
	for _, err := range Check(load(t)) {
		t.Error(err)
	}
}

// The strict decoder is what the other tests stand on: each of these
// documents must be refused, with an error that says why.
func TestDecodeRejects(t *testing.T) {
	const cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  k: v\n"
	const ds = `apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: d
spec:
  selector:
    matchLabels: {app: d}
  template:
    metadata:
      labels: {app: d}
    spec:
      containers:
        - name: c
          image: i
`
	tests := []struct {
		name, doc, want string
	}{
		{"unknown field", cm + "color: blue\n", `unknown field "color"`},
		{"unknown nested field", strings.Replace(ds, "image: i", "image: i\n          imagePolicy: Always", 1), `unknown field "spec.template.spec.containers[0].imagePolicy"`},
		{"field in the wrong case", strings.Replace(ds, "image: i", "Image: i", 1), `unknown field "spec.template.spec.containers[0].Image"`},
		{"duplicate key", cm + "data:\n  k: w\n", `key "data" already set`},
		{"wrong type", strings.Replace(ds, "containers:", "hostNetwork: \"yes\"\n      containers:", 1), "hostNetwork"},
		{"unknown kind", strings.Replace(cm, "ConfigMap", "ConfigMapp", 1), "is not a kind these manifests may use"},
		{"wrong apiVersion", strings.Replace(ds, "apps/v1", "extensions/v1beta1", 1), "is not a kind these manifests may use"},
		{"no apiVersion", strings.Replace(cm, "apiVersion: v1\n", "", 1), "apiVersion and kind are required"},
		{"no name", strings.Replace(cm, "  name: c\n", "  labels: {a: b}\n", 1), "metadata.name is required"},
		{"bad name", strings.Replace(cm, "name: c", "name: Capstan_Edge", 1), "metadata.name"},
		{"empty configmap", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n", "data is empty"},
		{"no containers", strings.Replace(ds, "      containers:\n        - name: c\n          image: i\n", "      containers: []\n", 1), "at least one is required"},
		{"no image", strings.Replace(ds, "          image: i\n", "", 1), "image is required"},
		{"selector misses the pods", strings.Replace(ds, "labels: {app: d}", "labels: {app: e}", 1), "does not match the pod template's labels"},
		{"mount of no volume", strings.Replace(ds, "image: i", "image: i\n          volumeMounts: [{name: v, mountPath: /v}]", 1), `volumeMount "v" names no volume`},
		{"two volume sources", strings.Replace(ds, "      containers:", "      volumes: [{name: v, emptyDir: {}, hostPath: {path: /x}}]\n      containers:", 1), "exactly one volume source"},
		{"probe on an unnamed port", strings.Replace(ds, "image: i", "image: i\n          livenessProbe: {httpGet: {path: /healthz, port: http}}", 1), `port "http" is not a named port`},
		{"bad quantity", strings.Replace(ds, "image: i", "image: i\n          resources: {limits: {memory: lots}}", 1), "quantities must match"},
		{"service without ports", "apiVersion: v1\nkind: Service\nmetadata:\n  name: s\nspec:\n  selector: {a: b}\n", "spec.ports is required"},
		{"bad yaml", "apiVersion: v1\nkind: [\n", "yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode("test.yaml", []byte(tt.doc))
			if err == nil {
				t.Fatalf("accepted:\n%s", tt.doc)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q does not mention %q", err, tt.want)
			}
		})
	}
}

func TestDecodeSkipsCommentOnlyDocuments(t *testing.T) {
	doc := "# a comment\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  k: v\n---\n# trailing\n"
	objs, err := Decode("test.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 1 || objs[0].Meta.Name != "c" || objs[0].Index != 1 {
		t.Fatalf("got %+v, want the one ConfigMap as document 1", objs)
	}
}
