// Package k8stest checks capstan's Kubernetes manifests (packaging/kubernetes)
// offline against the Kubernetes API types: every document decodes strictly
// into its k8s.io/api type, and the deployment holds together the way capstan
// needs it to (mounts, probes, grace period, resources, tolerations, forward endpoints).
//
// It is a module of its own so that the agent's go.mod does not carry
// k8s.io/api. Run it with `cd packaging/k8stest && go test ./...`.
package k8stest
