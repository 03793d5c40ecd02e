package health_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stackkit/stackkit/kit/http/health"
)

func get(t *testing.T, h http.Handler, path string) (int, health.Report, string) {
	t.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
	var rep health.Report
	_ = json.Unmarshal(w.Body.Bytes(), &rep)
	return w.Code, rep, w.Body.String()
}

func quiet() health.Option { return health.WithLogger(slog.New(slog.DiscardHandler)) }

func TestReadiness(t *testing.T) {
	h := health.New(quiet())
	mux := http.NewServeMux()
	h.Register(mux)

	if code, rep, _ := get(t, mux, "/readyz"); code != 200 || rep.Status != "ok" {
		t.Fatalf("no checks: %d %+v", code, rep)
	}
	dbErr := errors.New("dial tcp 10.0.0.7:5432: connection refused")
	failing := true
	h.Add("database", func(context.Context) error {
		if failing {
			return dbErr
		}
		return nil
	})
	h.Add("cache", func(context.Context) error { return errors.New("down") }, health.Optional())
	h.Add("slow", func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }, health.Timeout(50*time.Millisecond))
	// A check that ignores its context entirely must not hold the probe past its timeout.
	h.Add("stuck", func(context.Context) error { select {} }, health.Timeout(50*time.Millisecond))

	start := time.Now()
	code, rep, body := get(t, mux, "/readyz")
	if elapsed := time.Since(start); elapsed > time.Second {
		t.Errorf("probe took %s; checks run concurrently within their timeouts", elapsed)
	}
	if code != 503 || rep.Status != "unavailable" {
		t.Fatalf("failing check: %d %+v", code, rep)
	}
	for name, want := range map[string]string{"database": "failed", "cache": "failed", "slow": "timeout", "stuck": "timeout"} {
		if rep.Checks[name].Status != want {
			t.Errorf("check %s: %q, want %q", name, rep.Checks[name].Status, want)
		}
	}
	if strings.Contains(body, "10.0.0.7") {
		t.Errorf("error text leaked without Verbose: %s", body)
	}

	failing = false
	h2 := health.New(quiet())
	h2.Add("database", func(context.Context) error { return nil })
	h2.Add("cache", func(context.Context) error { return errors.New("down") }, health.Optional())
	if code, rep, _ := get(t, h2.ReadyHandler(), "/readyz"); code != 200 || !rep.Checks["cache"].Optional {
		t.Errorf("optional failure must not make the service unready: %d %+v", code, rep)
	}

	h2.Drain()
	if code, rep, _ := get(t, h2.ReadyHandler(), "/readyz"); code != 503 || rep.Status != "shutting down" {
		t.Errorf("draining: %d %+v", code, rep)
	}
	if code, _, _ := get(t, h2.LiveHandler(), "/healthz"); code != 200 {
		t.Errorf("liveness while draining: %d, want 200", code)
	}
}

func TestVerbose(t *testing.T) {
	h := health.New(quiet(), health.Verbose(true))
	h.Add("database", func(context.Context) error { return errors.New("boom") })
	if _, rep, _ := get(t, h.ReadyHandler(), "/readyz"); rep.Checks["database"].Error != "boom" {
		t.Errorf("verbose report: %+v", rep)
	}
}

func TestAddPanics(t *testing.T) {
	h := health.New()
	h.Add("db", func(context.Context) error { return nil })
	defer func() {
		if recover() == nil {
			t.Error("duplicate check name accepted")
		}
	}()
	h.Add("db", func(context.Context) error { return nil })
}
