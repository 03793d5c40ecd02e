// Package k8s checks the kustomize bases and overlays under deploy/k8s that no service module
// owns (web and the stack): each is rendered with `kubectl kustomize`, every object decoded
// strictly into the Kubernetes API types and held against what the services rely on. It holds
// tests only and is never published.
package k8s
