package servicekit_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stackkit/stackkit/kit/http/health"
	"github.com/stackkit/stackkit/kit/registry"
	"github.com/stackkit/stackkit/services/internal/servicekit"
)

func TestEnvCollectsEveryBadVariable(t *testing.T) {
	e := servicekit.ParseEnv([]string{
		"KIT_X_N=lots", "KIT_X_WAIT=1ms", "KIT_X_BACKOFF=5s,soon", "KIT_X_TYPO=1", "KIT_LOG_LEVEL=loud",
		"KIT_X_URL= nats://u:s3cret@h ", "OTHER_VAR=x", "KIT_Y_IGNORED=1",
	})
	known := []string{"KIT_X_N", "KIT_X_WAIT", "KIT_X_BACKOFF", "KIT_X_URL"}
	if got := e.String("KIT_X_URL", "def"); got != "nats://u:s3cret@h" {
		t.Errorf("String trims: %q", got)
	}
	if got := e.String("KIT_X_UNSET", "def"); got != "def" {
		t.Errorf("String default: %q", got)
	}
	if got := e.Int("KIT_X_N", 4, 1, 10); got != 4 {
		t.Errorf("a bad Int gives the default: %d", got)
	}
	if got := e.Duration("KIT_X_WAIT", time.Second, 10*time.Millisecond); got != time.Second {
		t.Errorf("a Duration below the minimum gives the default: %s", got)
	}
	def := []time.Duration{30 * time.Second, 2 * time.Minute, 5 * time.Minute, time.Hour}
	if got := e.Durations("KIT_X_BACKOFF", def); len(got) != 4 {
		t.Errorf("bad Durations give the default: %v", got)
	}
	if got := e.Level("KIT_LOG_LEVEL", "info"); got != slog.LevelInfo {
		t.Errorf("a bad Level gives info: %v", got)
	}
	e.RejectUnknown(known, "KIT_X_")
	err := e.Err()
	if !errors.Is(err, servicekit.ErrConfig) {
		t.Fatalf("want ErrConfig, got %v", err)
	}
	msg := err.Error()
	for _, want := range []string{
		`KIT_X_N: "lots": want a whole number from 1 to 10`,
		`KIT_X_WAIT: "1ms": must be at least 10ms`,
		`KIT_X_BACKOFF: "5s,soon": "soon": `, "(want a comma-separated list such as 30s,2m,5m)",
		"KIT_X_TYPO: unknown variable (known: KIT_X_N, KIT_X_WAIT, KIT_X_BACKOFF, KIT_X_URL)",
		`KIT_LOG_LEVEL: "loud": want debug, info, warn or error`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	for _, not := range []string{"KIT_Y_IGNORED", "OTHER_VAR", "s3cret"} {
		if strings.Contains(msg, not) {
			t.Errorf("error mentions %q:\n%s", not, msg)
		}
	}
	if lines := strings.Split(msg, "\n"); !strings.HasPrefix(lines[0], "configuration error: KIT_LOG_LEVEL") {
		t.Errorf("errors are not sorted:\n%s", msg)
	}
}

func TestEnvValues(t *testing.T) {
	e := servicekit.ParseEnv([]string{"N=7", "D=2m", "B=1s, 2s", "LV=debug", "RAW= x "})
	if n, d := e.Int("N", 0, 1, 10), e.Duration("D", 0, 0); n != 7 || d != 2*time.Minute {
		t.Errorf("Int %d, Duration %s", n, d)
	}
	if b := e.Durations("B", nil); fmt.Sprint(b) != "[1s 2s]" {
		t.Errorf("Durations %v", b)
	}
	if lv := e.Level("LV", "info"); lv != slog.LevelDebug {
		t.Errorf("Level %v", lv)
	}
	if e.Get("RAW") != " x " {
		t.Errorf("Get %q", e.Get("RAW"))
	}
	def := []time.Duration{time.Second}
	got := e.Durations("UNSET", def)
	got[0] = 0
	if def[0] != time.Second {
		t.Error("Durations returned the default itself, not a copy")
	}
	if err := e.Err(); err != nil {
		t.Errorf("Err: %v", err)
	}
}

func TestExitCode(t *testing.T) {
	errOwn := errors.New("own config error")
	for _, tc := range []struct {
		err  error
		want int
	}{
		{nil, servicekit.ExitOK},
		{fmt.Errorf("x: %w", servicekit.ErrConfig), servicekit.ExitConfig},
		{fmt.Errorf("KIT_QUEUE_URL: %w", registry.ErrUnknownScheme), servicekit.ExitConfig},
		{fmt.Errorf("y: %w", errOwn), servicekit.ExitConfig},
		{errors.New("unreachable"), servicekit.ExitFailure},
	} {
		if got := servicekit.ExitCode(tc.err, errOwn); got != tc.want {
			t.Errorf("ExitCode(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}

func TestSetupTelemetry(t *testing.T) {
	tel, err := servicekit.SetupTelemetry(t.Context(), "kit-test", func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	defer tel.Shutdown(context.Background())
	rec := httptest.NewRecorder()
	tel.Metrics.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), "go_goroutines") {
		t.Errorf("/metrics: %d\n%.300s", rec.Code, rec.Body.String())
	}
	for _, env := range []map[string]string{
		{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1", "OTEL_TRACES_EXPORTER": "zipkin"},
		{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"},
	} {
		_, err := servicekit.SetupTelemetry(t.Context(), "kit-test", func(k string) string { return env[k] })
		if !errors.Is(err, servicekit.ErrConfig) {
			t.Errorf("%v: want ErrConfig, got %v", env, err)
		}
	}
}

// TestServerDrains runs a worker that holds its work until released, cancels the context, and
// checks that Run waits for the work and returns once it is done; then that a drain timeout calls
// DrainTimedOut (which here releases the work) and returns its error.
func TestServerDrains(t *testing.T) {
	for _, timeout := range []bool{false, true} {
		t.Run(fmt.Sprintf("timeout=%v", timeout), func(t *testing.T) {
			var buf syncBuffer
			logger := slog.New(slog.NewJSONHandler(&buf, nil))
			h := health.New(health.WithLogger(logger))
			mux := http.NewServeMux()
			h.Register(mux)
			ready, release := make(chan struct{}), make(chan struct{})
			errTimedOut := errors.New("timed out")
			drainTimeout := time.Minute
			if timeout {
				drainTimeout = 50 * time.Millisecond
			}
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan error, 1)
			go func() {
				done <- servicekit.Server{
					Name: "svc", Addr: "127.0.0.1:0", Handler: mux, Health: h, Logger: logger, ShutdownTimeout: time.Second,
					WorkerName: "w", Ready: ready, ReadyAttrs: []any{"k", "v"},
					Work: func(ctx context.Context) error {
						close(ready)
						<-ctx.Done()
						<-release
						return nil
					},
					DrainTimeout: drainTimeout, DrainMessage: "svc: draining",
					DrainAttrs:    func() []any { return []any{"busy", true} },
					DrainTimedOut: func() error { close(release); return errTimedOut },
				}.Run(ctx)
			}()
			buf.waitFor(t, `"msg":"svc: consuming","k":"v"`)
			cancel()
			buf.waitFor(t, `"msg":"svc: draining","timeout":"`)
			if !timeout {
				select {
				case err := <-done:
					t.Fatalf("Run returned %v before the work was done", err)
				default:
				}
				close(release)
				if err := <-done; err != nil {
					t.Fatalf("Run: %v", err)
				}
				buf.waitFor(t, `"msg":"svc: drained"`)
				buf.waitFor(t, `"msg":"svc: stopped"`)
				return
			}
			err := <-done
			if !errors.Is(err, errTimedOut) {
				t.Fatalf("Run after the drain timeout: %v", err)
			}
		})
	}
}

// TestServerDrainDelay: after ctx is done the HTTP server keeps serving for DrainDelay even when
// the worker drains at once: a kept-alive connection is still answered, with /readyz 503 and
// Connection: close, and Run returns only after the delay.
func TestServerDrainDelay(t *testing.T) {
	const delay = time.Second
	var buf syncBuffer
	logger := slog.New(slog.NewJSONHandler(&buf, nil))
	h := health.New(health.WithLogger(logger))
	mux := http.NewServeMux()
	h.Register(mux)
	ready := make(chan struct{})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- servicekit.Server{
			Name: "svc", Addr: "127.0.0.1:0", Handler: mux, Health: h, Logger: logger,
			DrainDelay: delay, ShutdownTimeout: time.Second,
			WorkerName: "w", Ready: ready,
			Work:         func(ctx context.Context) error { close(ready); <-ctx.Done(); return nil },
			DrainTimeout: time.Minute, DrainMessage: "svc: draining",
		}.Run(ctx)
	}()
	buf.waitFor(t, `"msg":"svc: consuming"`)
	var addr string
	for line := range strings.SplitSeq(buf.String(), "\n") {
		var rec struct{ Msg, Addr string }
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "http: serving" {
			addr = rec.Addr
		}
	}
	client := &http.Client{Transport: &http.Transport{}}
	get := func(path string) *http.Response {
		t.Helper()
		resp, err := client.Get("http://" + addr + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	if resp := get("/healthz"); resp.StatusCode != 200 || resp.Close {
		t.Fatalf("before the drain: %d, close %v", resp.StatusCode, resp.Close)
	}
	cancelled := time.Now()
	cancel()
	buf.waitFor(t, `"msg":"svc: draining","timeout":"1m0s","drain_delay":"1s"`)
	buf.waitFor(t, `"msg":"svc: drained"`)
	// The worker is done; the server still serves, on the connection kept alive from before.
	resp := get("/readyz")
	if resp.StatusCode != http.StatusServiceUnavailable || !resp.Close {
		t.Errorf("/readyz during the drain delay: %d, Connection: close %v; want 503 and close", resp.StatusCode, resp.Close)
	}
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if elapsed := time.Since(cancelled); elapsed < delay {
		t.Errorf("Run returned %s after ctx was done, before the drain delay of %s", elapsed, delay)
	}
}

func TestEnvHTTP(t *testing.T) {
	def := servicekit.HTTP{Addr: ":8080", DrainDelay: 5 * time.Second, ShutdownTimeout: 5 * time.Second}
	if got := servicekit.ParseEnv(nil).HTTP(def); got != def {
		t.Errorf("defaults: %+v", got)
	}
	e := servicekit.ParseEnv([]string{"KIT_HTTP_ADDR=127.0.0.1:9090", "KIT_HTTP_DRAIN_DELAY=0", "KIT_HTTP_SHUTDOWN_TIMEOUT=1m"})
	if got := e.HTTP(def); got != (servicekit.HTTP{Addr: "127.0.0.1:9090", ShutdownTimeout: time.Minute}) || e.Err() != nil {
		t.Errorf("set: %+v %v", got, e.Err())
	}
	e = servicekit.ParseEnv([]string{"KIT_HTTP_DRAIN_DELAY=5", "KIT_HTTP_SHUTDOWN_TIMEOUT=-1s"})
	e.HTTP(def)
	err := e.Err()
	if !errors.Is(err, servicekit.ErrConfig) || !strings.Contains(err.Error(), `KIT_HTTP_DRAIN_DELAY: "5"`) || !strings.Contains(err.Error(), `KIT_HTTP_SHUTDOWN_TIMEOUT: "-1s"`) {
		t.Errorf("bad values: %v", err)
	}
}
