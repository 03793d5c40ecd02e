package i18nsync_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stackkit/stackkit/internal/testenv"
	"github.com/stackkit/stackkit/services/i18nsync"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// TestKustomizeBase builds deploy/k8s/i18nsync with `kubectl kustomize` (offline), decodes every
// object strictly into the Kubernetes API types, and checks that the ConfigMap's settings start
// the service and that the grace period covers the drain. kubectl missing: skip, or fail under
// CI=true.
func TestKustomizeBase(t *testing.T) {
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		testenv.Unavailable(t, "kubectl", "not on PATH")
	}
	out, err := exec.Command(kubectl, "kustomize", "../../deploy/k8s/i18nsync").Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("kubectl kustomize: %v\n%s", err, stderr)
	}
	var dep *appsv1.Deployment
	var svc *corev1.Service
	var cm *corev1.ConfigMap
	for doc := range strings.SplitSeq(string(out), "\n---\n") {
		var meta struct{ Kind string }
		if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
			t.Fatal(err)
		}
		var obj any
		switch meta.Kind {
		case "Deployment":
			dep = new(appsv1.Deployment)
			obj = dep
		case "Service":
			svc = new(corev1.Service)
			obj = svc
		case "ConfigMap":
			cm = new(corev1.ConfigMap)
			obj = cm
		default:
			t.Fatalf("unexpected object kind %q", meta.Kind)
		}
		if err := yaml.UnmarshalStrict([]byte(doc), obj); err != nil {
			t.Errorf("%s does not decode strictly: %v", meta.Kind, err)
		}
	}
	if dep == nil || svc == nil || cm == nil {
		t.Fatalf("want a Deployment, a Service and a ConfigMap; got %s", out)
	}
	env := []string{"KIT_QUEUE_URL=nats://nats:4222", "KIT_STORAGE_URL=s3://catalogs", "KIT_TX_WEBHOOK_SECRET=0123456789abcdef0123"}
	for k, v := range cm.Data {
		env = append(env, k+"="+v)
	}
	cfg, err := i18nsync.ConfigFromEnv(env)
	if err != nil {
		t.Fatalf("the ConfigMap's settings do not start the service: %v", err)
	}
	pod := dep.Spec.Template.Spec
	if g := pod.TerminationGracePeriodSeconds; g == nil || float64(*g) < cfg.DrainTimeout.Seconds()+5 {
		t.Errorf("terminationGracePeriodSeconds %v does not cover KIT_I18N_DRAIN_TIMEOUT %s + 5 s", g, cfg.DrainTimeout)
	}
	c := pod.Containers[0]
	if c.SecurityContext == nil || c.SecurityContext.ReadOnlyRootFilesystem == nil || !*c.SecurityContext.ReadOnlyRootFilesystem {
		t.Error("the container's root file system is writable")
	}
	mounted := false
	for _, m := range c.VolumeMounts {
		mounted = mounted || strings.HasPrefix(cfg.TxConfig, m.MountPath+"/")
	}
	if !mounted {
		t.Errorf("KIT_TX_CONFIG %s is not on a mounted volume", cfg.TxConfig)
	}
	if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet.Path != "/readyz" || c.LivenessProbe.HTTPGet.Path != "/healthz" {
		t.Error("probes are not /readyz and /healthz")
	}
}
