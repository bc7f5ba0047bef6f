// Command capstan-configs writes the capstan configurations that the
// Kubernetes manifests carry in their ConfigMaps out to files, so that CI can
// run `capstan validate` on exactly what a cluster would get.
//
//	go run ./cmd/capstan-configs -manifests ../kubernetes -out DIR
//
// It prints the path of every file it wrote, one a line.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"

	"github.com/capstan-agent/capstan/packaging/k8stest"
)

func main() {
	manifests := flag.String("manifests", "../kubernetes", "directory of Kubernetes manifests")
	out := flag.String("out", "", "directory to write the configurations to (required)")
	flag.Parse()
	if *out == "" {
		fmt.Fprintln(os.Stderr, "capstan-configs: -out DIR is required")
		os.Exit(2)
	}
	if err := run(*manifests, *out); err != nil {
		fmt.Fprintf(os.Stderr, "capstan-configs: %v\n", err)
		os.Exit(1)
	}
}

func run(manifests, out string) error {
	set, err := k8stest.LoadDir(manifests)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", out, err)
	}
	n := 0
	for _, o := range set.OfKind("ConfigMap") {
		text, ok := o.Obj.(*corev1.ConfigMap).Data["capstan.yaml"]
		if !ok {
			continue
		}
		ns := o.Meta.Namespace
		if ns == "" {
			ns = "default"
		}
		file := filepath.Join(out, ns+"_"+o.Meta.Name+".yaml")
		if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
			return fmt.Errorf("write %s: %w", file, err)
		}
		fmt.Println(file)
		n++
	}
	if n == 0 {
		return fmt.Errorf("no ConfigMap in %s holds a capstan.yaml", manifests)
	}
	return nil
}
