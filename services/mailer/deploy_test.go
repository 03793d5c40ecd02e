package mailer_test

import (
	"bufio"
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stackkit/stackkit/internal/testenv"
	"github.com/stackkit/stackkit/services/mailer"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// TestKustomizeBase builds deploy/k8s/mailer with `kubectl kustomize` (offline) and decodes every
// object strictly into the Kubernetes API types, so a misspelt field fails here rather than at
// `kubectl apply`; then checks what the service relies on. kubectl is on the project's machines
// (CI included): missing, the test skips, and fails under CI=true.
func TestKustomizeBase(t *testing.T) {
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		testenv.Unavailable(t, "kubectl", "not on PATH")
	}
	out, err := exec.Command(kubectl, "kustomize", "../../deploy/k8s/mailer").Output()
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

	// The configuration the pods get must start the service.
	environ := []string{"KIT_MAIL_URL=smtp://relay:587", "KIT_QUEUE_URL=nats://nats:4222"}
	for k, v := range cm.Data {
		environ = append(environ, k+"="+v)
	}
	cfg, err := mailer.ConfigFromEnv(environ)
	if err != nil {
		t.Fatalf("the ConfigMap's settings do not start the service: %v", err)
	}

	pod := dep.Spec.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers", len(pod.Containers))
	}
	c := pod.Containers[0]
	drain := cfg.DrainTimeout + 5*time.Second // the drain, then closing the HTTP server
	if g := pod.TerminationGracePeriodSeconds; g == nil || time.Duration(*g)*time.Second <= drain {
		t.Errorf("terminationGracePeriodSeconds %v must exceed the drain (%s)", g, drain)
	}
	if p := c.LivenessProbe; p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/healthz" {
		t.Errorf("liveness probe: %+v", p)
	}
	if p := c.ReadinessProbe; p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/readyz" {
		t.Errorf("readiness probe: %+v", p)
	} else if time.Duration(p.TimeoutSeconds)*time.Second <= cfg.CheckTimeout {
		t.Errorf("readiness probe timeout %ds does not leave room for the checks (%s)", p.TimeoutSeconds, cfg.CheckTimeout)
	}
	secretEnv := map[string]bool{}
	for _, e := range c.Env {
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			secretEnv[e.Name] = true
		}
		if e.Value != "" && (strings.Contains(e.Value, "@") || strings.HasPrefix(e.Name, "KIT_MAIL_URL")) {
			t.Errorf("%s has a literal value; URLs with credentials come from the Secret", e.Name)
		}
	}
	if !secretEnv["KIT_MAIL_URL"] || !secretEnv["KIT_QUEUE_URL"] {
		t.Errorf("KIT_MAIL_URL and KIT_QUEUE_URL must come from a Secret: %v", secretEnv)
	}
	if _, ok := c.Resources.Limits[corev1.ResourceMemory]; !ok || c.Resources.Requests.Cpu().IsZero() {
		t.Errorf("resources: %+v", c.Resources)
	}
	psc, sc := pod.SecurityContext, c.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || sc == nil || sc.ReadOnlyRootFilesystem == nil ||
		!*sc.ReadOnlyRootFilesystem || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Errorf("security context: pod %+v, container %+v", psc, sc)
	}
	for k, v := range svc.Spec.Selector {
		if pod := dep.Spec.Template.Labels[k]; pod != v {
			t.Errorf("the Service selects %s=%s, the pods have %q", k, v, pod)
		}
	}
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].TargetPort.String() != "http" {
		t.Errorf("metrics Service ports: %+v", svc.Spec.Ports)
	}
}

// TestDockerBuildContext builds the binary from what the Dockerfile's build stage copies, as the
// Dockerfile builds it, so a new sibling module the service needs cannot be forgotten there. (No
// Docker engine runs on the project's machines; this checks the context and the command.)
func TestDockerBuildContext(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the service")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	df, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir()
	copied := 0
	sc := bufio.NewScanner(bytes.NewReader(df))
	froms := 0
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		if f[0] == "FROM" {
			froms++
		}
		if froms != 1 || f[0] != "COPY" || strings.HasPrefix(f[1], "--") {
			continue
		}
		to := filepath.Join(dst, f[len(f)-1])
		for _, src := range f[1 : len(f)-1] {
			matches, err := filepath.Glob(filepath.Join(root, src))
			if err != nil {
				t.Fatal(err)
			}
			if len(matches) == 0 && !strings.ContainsAny(src, "*?[") {
				t.Fatalf("Dockerfile copies %s, which does not exist", src)
			}
			for _, m := range matches {
				copyInto(t, m, to)
				copied++
			}
		}
	}
	if copied == 0 {
		t.Fatal("found no COPY line in the build stage")
	}
	cmd := exec.Command("go", "build", "-ldflags=-s -w", "-o", filepath.Join(dst, "mailer"), "./cmd/mailer")
	cmd.Dir = filepath.Join(dst, "services/mailer")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOWORK=off", "GOFLAGS=-trimpath")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building from the Dockerfile's context: %v\n%s", err, out)
	}
}

// copyInto copies file src into directory to, or directory src's contents (without tests,
// testdata and .kit, as the .dockerignore says) into to.
func copyInto(t *testing.T, src, to string) {
	t.Helper()
	fi, err := os.Stat(src)
	if err != nil {
		t.Fatal(err)
	}
	if !fi.IsDir() {
		copyFile(t, src, filepath.Join(to, filepath.Base(src)))
		return
	}
	err = filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() && (d.Name() == "testdata" || d.Name() == ".kit") {
			return filepath.SkipDir
		}
		if d.IsDir() || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		copyFile(t, p, filepath.Join(to, rel))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
