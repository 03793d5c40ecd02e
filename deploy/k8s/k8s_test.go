package k8s_test

import (
	"errors"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stackkit/stackkit/internal/testenv"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"
)

// The environment services/web reads: its backends and secrets from a Secret, its settings from
// a ConfigMap.
var (
	webSecretEnv = []string{"KIT_DATABASE_URL", "KIT_CACHE_URL", "KIT_STORAGE_URL", "KIT_QUEUE_URL",
		"KIT_WEB_STAFF_TOKEN", "KIT_WEB_SIGNING_KEY"}
	webConfigEnv = []string{"KIT_HTTP_DRAIN_DELAY", "KIT_HTTP_SHUTDOWN_TIMEOUT", "KIT_LOG_LEVEL",
		"KIT_WEB_STAFF_EMAIL", "KIT_WEB_FROM", "KIT_WEB_BASE_URL", "KIT_WEB_ALLOWED_HOSTS", "KIT_WEB_MAX_ATTACHMENT"}
	backendEnv = []string{"KIT_DATABASE_URL", "KIT_CACHE_URL", "KIT_STORAGE_URL", "KIT_QUEUE_URL"}
)

// objects is a rendered kustomization, decoded.
type objects struct {
	deployments map[string]*appsv1.Deployment
	services    map[string]*corev1.Service
	configMaps  map[string]*corev1.ConfigMap
	hpas        map[string]*autoscalingv2.HorizontalPodAutoscaler
	pdbs        map[string]*policyv1.PodDisruptionBudget
	namespaces  map[string]*corev1.Namespace
}

// render builds dir with `kubectl kustomize` (offline) and decodes every object strictly into
// the Kubernetes API types, so a misspelt field fails here rather than at `kubectl apply`.
// kubectl is on the project's machines (CI included): missing, the test skips, and fails under
// CI=true.
func render(t *testing.T, dir string) *objects {
	t.Helper()
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		testenv.Unavailable(t, "kubectl", "not on PATH")
	}
	out, err := exec.Command(kubectl, "kustomize", dir).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("kubectl kustomize %s: %v\n%s", dir, err, ee.Stderr)
		}
		t.Fatalf("kubectl kustomize %s: %v", dir, err)
	}
	o := &objects{
		deployments: map[string]*appsv1.Deployment{},
		services:    map[string]*corev1.Service{},
		configMaps:  map[string]*corev1.ConfigMap{},
		hpas:        map[string]*autoscalingv2.HorizontalPodAutoscaler{},
		pdbs:        map[string]*policyv1.PodDisruptionBudget{},
		namespaces:  map[string]*corev1.Namespace{},
	}
	for doc := range strings.SplitSeq(string(out), "\n---\n") {
		var meta struct {
			Kind     string
			Metadata struct{ Name string }
		}
		if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
			t.Fatal(err)
		}
		name := meta.Metadata.Name
		var obj any
		switch meta.Kind {
		case "Deployment":
			obj = decode(o.deployments, name)
		case "Service":
			obj = decode(o.services, name)
		case "ConfigMap":
			obj = decode(o.configMaps, name)
		case "HorizontalPodAutoscaler":
			obj = decode(o.hpas, name)
		case "PodDisruptionBudget":
			obj = decode(o.pdbs, name)
		case "Namespace":
			obj = decode(o.namespaces, name)
		default:
			t.Fatalf("%s: unexpected object kind %q", dir, meta.Kind)
		}
		if err := yaml.UnmarshalStrict([]byte(doc), obj); err != nil {
			t.Errorf("%s %s does not decode strictly: %v", meta.Kind, name, err)
		}
	}
	return o
}

func decode[T any](m map[string]*T, name string) *T {
	v := new(T)
	m[name] = v
	return v
}

// secretRef returns the Secret name and key env var name takes its value from, or "" if none.
func secretRef(c corev1.Container, name string) (secret, key string) {
	for _, e := range c.Env {
		if e.Name == name && e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			return e.ValueFrom.SecretKeyRef.Name, e.ValueFrom.SecretKeyRef.Key
		}
	}
	return "", ""
}

// configMap returns the (generated) ConfigMap whose name starts with prefix.
func configMap(t *testing.T, o *objects, prefix string) *corev1.ConfigMap {
	t.Helper()
	for name, cm := range o.configMaps {
		if strings.HasPrefix(name, prefix+"-") {
			return cm
		}
	}
	t.Fatalf("no ConfigMap %s-*", prefix)
	return nil
}

func selects(t *testing.T, what string, sel map[string]string, labels map[string]string) {
	t.Helper()
	if len(sel) == 0 {
		t.Errorf("%s selects nothing", what)
	}
	for k, v := range sel {
		if labels[k] != v {
			t.Errorf("%s selects %s=%s, the pods have %q", what, k, v, labels[k])
		}
	}
}

func duration(t *testing.T, cm *corev1.ConfigMap, key string) time.Duration {
	t.Helper()
	d, err := time.ParseDuration(cm.Data[key])
	if err != nil {
		t.Fatalf("%s: %v", key, err)
	}
	return d
}

// checkWeb checks the web Deployment and its companions in o; secretName maps each variable
// services/web reads from a Secret to the Secret it must come from.
func checkWeb(t *testing.T, o *objects, secretName func(env string) string) {
	dep := o.deployments["web"]
	if dep == nil {
		t.Fatal("no Deployment web")
	}
	pod := dep.Spec.Template.Spec
	labels := dep.Spec.Template.Labels
	if len(pod.Containers) != 1 || len(pod.InitContainers) != 1 {
		t.Fatalf("want one container and one init container: %d, %d", len(pod.Containers), len(pod.InitContainers))
	}
	web, migrate := pod.Containers[0], pod.InitContainers[0]
	if !slices.Equal(web.Command, []string{"/web", "serve"}) {
		t.Errorf("web command %q", web.Command)
	}
	if !slices.Equal(migrate.Command, []string{"/web", "migrate", "up"}) {
		t.Errorf("init container command %q", migrate.Command)
	}
	if migrate.Image != web.Image {
		t.Errorf("the migration runs %s, the server %s", migrate.Image, web.Image)
	}

	// Probes: liveness without checks, readiness with them, on the port the server listens on.
	if len(web.Ports) != 1 || web.Ports[0].ContainerPort != 8080 || web.Ports[0].Name != "http" {
		t.Errorf("ports %+v", web.Ports)
	}
	for _, p := range []struct {
		what  string
		probe *corev1.Probe
		path  string
	}{{"startup", web.StartupProbe, "/healthz"}, {"liveness", web.LivenessProbe, "/healthz"}, {"readiness", web.ReadinessProbe, "/readyz"}} {
		if p.probe == nil || p.probe.HTTPGet == nil {
			t.Errorf("%s probe: %+v", p.what, p.probe)
			continue
		}
		g := p.probe.HTTPGet
		if g.Path != p.path || (g.Port != intstr.FromString("http") && g.Port != intstr.FromInt32(8080)) {
			t.Errorf("%s probe gets %s on port %s, want %s on http (8080)", p.what, g.Path, g.Port.String(), p.path)
		}
	}
	if e := envValue(web, "KIT_HTTP_ADDR"); e != ":8080" {
		t.Errorf("KIT_HTTP_ADDR %q, the probes use 8080", e)
	}

	// The environment of the contract, the same for the migration and the server.
	cm := configMap(t, o, "web-config")
	for _, c := range []corev1.Container{web, migrate} {
		for _, name := range webSecretEnv {
			if s, k := secretRef(c, name); s != secretName(name) || k != name {
				t.Errorf("%s: %s from Secret %q key %q, want %q key %q", c.Name, name, s, k, secretName(name), name)
			}
		}
		if len(c.EnvFrom) != 1 || c.EnvFrom[0].ConfigMapRef == nil || c.EnvFrom[0].ConfigMapRef.Name != cm.Name {
			t.Errorf("%s: envFrom %+v, want the ConfigMap %s", c.Name, c.EnvFrom, cm.Name)
		}
		for _, e := range c.Env {
			if e.Value != "" && (strings.Contains(e.Value, "://") || strings.Contains(e.Value, "@")) {
				t.Errorf("%s: %s has a literal URL; URLs with credentials come from a Secret", c.Name, e.Name)
			}
		}
		checkSecurity(t, c)
		if _, ok := c.Resources.Limits[corev1.ResourceMemory]; !ok || c.Resources.Requests.Cpu().IsZero() {
			t.Errorf("%s: resources %+v", c.Name, c.Resources)
		}
		if !slices.ContainsFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool { return m.MountPath == "/tmp" }) {
			t.Errorf("%s: no volume on /tmp (the root filesystem is read-only)", c.Name)
		}
	}
	for _, name := range webConfigEnv {
		if cm.Data[name] == "" {
			t.Errorf("ConfigMap %s does not set %s", cm.Name, name)
		}
	}
	for k := range cm.Data {
		if strings.Contains(k, "TOKEN") || strings.Contains(k, "KEY") || strings.HasSuffix(k, "_URL") && k != "KIT_WEB_BASE_URL" {
			t.Errorf("ConfigMap %s holds %s, a secret", cm.Name, k)
		}
	}
	if !slices.ContainsFunc(pod.Volumes, func(v corev1.Volume) bool { return v.EmptyDir != nil }) {
		t.Errorf("no emptyDir volume: %+v", pod.Volumes)
	}

	// SIGTERM: the drain delay then the shutdown timeout, before the kubelet's SIGKILL.
	drain := duration(t, cm, "KIT_HTTP_DRAIN_DELAY") + duration(t, cm, "KIT_HTTP_SHUTDOWN_TIMEOUT")
	if g := pod.TerminationGracePeriodSeconds; g == nil || time.Duration(*g)*time.Second <= drain {
		var s int64 = 30 // the default
		if g != nil {
			s = *g
		}
		t.Errorf("terminationGracePeriodSeconds %d must exceed the drain delay plus the shutdown timeout (%s)", s, drain)
	}
	psc := pod.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0 ||
		psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("pod security context %+v", psc)
	}

	// The Service, the autoscaler and the disruption budget find the pods.
	svc := o.services["web"]
	if svc == nil {
		t.Fatal("no Service web")
	}
	selects(t, "Service web", svc.Spec.Selector, labels)
	selects(t, "Deployment web", dep.Spec.Selector.MatchLabels, labels)
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].TargetPort.String() != "http" {
		t.Errorf("Service ports %+v", svc.Spec.Ports)
	}
	pdb := o.pdbs["web"]
	if pdb == nil || pdb.Spec.Selector == nil {
		t.Fatal("no PodDisruptionBudget web with a selector")
	}
	selects(t, "PodDisruptionBudget web", pdb.Spec.Selector.MatchLabels, labels)
	hpa := o.hpas["web"]
	if hpa == nil {
		t.Fatal("no HorizontalPodAutoscaler web")
	}
	if r := hpa.Spec.ScaleTargetRef; r.Kind != "Deployment" || r.Name != dep.Name || r.APIVersion != "apps/v1" {
		t.Errorf("the autoscaler scales %+v", r)
	}
	if hpa.Spec.MinReplicas == nil || *hpa.Spec.MinReplicas < 2 || hpa.Spec.MaxReplicas < *hpa.Spec.MinReplicas {
		t.Errorf("autoscaler minReplicas/maxReplicas: want at least two replicas (the budget must let a node drain), at most max: %+v", hpa.Spec)
	}
	if len(hpa.Spec.Metrics) == 0 || hpa.Spec.Metrics[0].Resource == nil || hpa.Spec.Metrics[0].Resource.Name != corev1.ResourceCPU {
		t.Errorf("autoscaler metrics %+v, want CPU", hpa.Spec.Metrics)
	}
}

func envValue(c corev1.Container, name string) string {
	for _, e := range c.Env {
		if e.Name == name {
			return e.Value
		}
	}
	return ""
}

func checkSecurity(t *testing.T, c corev1.Container) {
	t.Helper()
	sc := c.SecurityContext
	if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
		sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
		t.Errorf("%s: security context %+v", c.Name, sc)
	}
}

// TestWebBase renders deploy/k8s/web.
func TestWebBase(t *testing.T) {
	o := render(t, "web")
	if len(o.deployments) != 1 || len(o.services) != 1 || len(o.configMaps) != 1 || len(o.namespaces) != 0 {
		t.Errorf("objects: %d Deployments, %d Services, %d ConfigMaps, %d Namespaces", len(o.deployments), len(o.services), len(o.configMaps), len(o.namespaces))
	}
	checkWeb(t, o, func(string) string { return "web" })
}

// TestStackOverlay renders deploy/k8s/stack: the three services in one namespace, their backend
// URLs from one Secret, their own secrets from their own.
func TestStackOverlay(t *testing.T) {
	o := render(t, "stack")
	const backends = "stackkit-backends"
	checkWeb(t, o, func(env string) string {
		if slices.Contains(backendEnv, env) {
			return backends
		}
		return "web"
	})
	if len(o.namespaces) != 1 || o.namespaces["stackkit"] == nil {
		t.Fatalf("want the Namespace stackkit: %v", o.namespaces)
	}
	// Every Deployment's namespace, checked through the Deployments (the rest follow the same
	// transformer).
	for name, d := range o.deployments {
		if d.Namespace != "stackkit" {
			t.Errorf("Deployment %s in namespace %q", name, d.Namespace)
		}
	}

	// One queue for the three services, one bucket for web and i18nsync.
	want := map[string]map[string]string{
		"web":      {"KIT_QUEUE_URL": backends, "KIT_STORAGE_URL": backends, "KIT_DATABASE_URL": backends, "KIT_CACHE_URL": backends, "KIT_WEB_SIGNING_KEY": "web"},
		"mailer":   {"KIT_QUEUE_URL": backends, "KIT_MAIL_URL": "mailer"},
		"i18nsync": {"KIT_QUEUE_URL": backends, "KIT_STORAGE_URL": backends, "KIT_TRANSIFEX_TOKEN": "i18nsync"},
	}
	images := map[string]bool{}
	for svc, envs := range want {
		d := o.deployments[svc]
		if d == nil {
			t.Errorf("no Deployment %s", svc)
			continue
		}
		pod := d.Spec.Template.Spec
		for _, c := range slices.Concat(pod.InitContainers, pod.Containers) {
			images[c.Image] = true
			for env, secret := range envs {
				if s, k := secretRef(c, env); s != secret || k != env {
					t.Errorf("%s/%s: %s from Secret %q key %q, want %q key %q", svc, c.Name, env, s, k, secret, env)
				}
			}
			checkSecurity(t, c)
		}
		if _, ok := o.services[svc]; !ok && svc != "mailer" {
			t.Errorf("no Service %s", svc)
		}
	}
	for img := range images {
		if !strings.Contains(img, ":") {
			t.Errorf("image %s has no tag", img)
		}
	}
}
