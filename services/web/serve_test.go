package web

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stackkit/stackkit/kit/db/dbtest"
	"github.com/stackkit/stackkit/kit/db/migrate"
	"github.com/stackkit/stackkit/services/internal/servicekit"
)

// syncBuffer is a log sink the server writes from its goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestServeProbes runs the service on a new SQLite database: /healthz is 200 at once, /readyz is
// 503 until the embedded migrations are applied and 200 after, /metrics serves Prometheus text, a
// Host outside KIT_WEB_ALLOWED_HOSTS gets 400, and cancelling the context stops Run cleanly.
func TestServeProbes(t *testing.T) {
	dbURL := "sqlite://" + t.TempDir() + "/web.db"
	cfg, err := ConfigFromEnv([]string{
		"KIT_DATABASE_URL=" + dbURL, "KIT_HTTP_DRAIN_DELAY=0", "KIT_WEB_ALLOWED_HOSTS=desk.example.com, localhost",
	})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, cfg, servicekit.NewLogger(&logs, cfg.LogLevel), func(k string) string {
			if k == "OTEL_SDK_DISABLED" {
				return "true"
			}
			return ""
		}, ln)
	}()
	base := "http://" + ln.Addr().String()
	client := &http.Client{Timeout: 5 * time.Second}
	get := func(path, host string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, base+path, nil)
		if host != "" {
			req.Host = host
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}

	if code, body := get("/healthz", ""); code != http.StatusOK {
		t.Fatalf("/healthz: %d %s", code, body)
	}
	if code, body := get("/readyz", ""); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz before the migrations: %d %s, want 503", code, body)
	}
	m, err := migrate.New(dbtest.Open(t, dbURL), migrate.WithFS(Migrations()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Up(context.Background()); err != nil {
		t.Fatal(err)
	}
	if code, body := get("/readyz", ""); code != http.StatusOK {
		t.Errorf("/readyz after the migrations: %d %s, want 200", code, body)
	}
	if code, body := get("/metrics", "desk.example.com"); code != http.StatusOK || !strings.Contains(body, "go_goroutines") {
		t.Errorf("/metrics: %d, want 200 with the Go runtime's metrics; body starts %.200q", code, body)
	}
	if code, _ := get("/metrics", "evil.example.net"); code != http.StatusBadRequest {
		t.Errorf("/metrics with a forged Host: %d, want 400", code)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run after cancel: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return within 15s of its context's end")
	}
	if !strings.Contains(logs.String(), `"msg":"web: stopped"`) {
		t.Errorf("no stop logged; logs:\n%s", logs.String())
	}
}

// TestConfigFromEnv: defaults, and bad values each named.
func TestConfigFromEnv(t *testing.T) {
	cfg, err := ConfigFromEnv(nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DatabaseURL != DefaultDatabaseURL || cfg.HTTPAddr != ":8080" || cfg.HTTPDrainDelay != DefaultHTTPDrainDelay ||
		cfg.HTTPShutdownTimeout != DefaultHTTPShutdownTimeout || cfg.AllowedHosts != nil {
		t.Errorf("defaults: %+v", cfg)
	}
	_, err = ConfigFromEnv([]string{"KIT_HTTP_DRAIN_DELAY=soon", "KIT_LOG_LEVEL=loud"})
	if err == nil || !strings.Contains(err.Error(), "KIT_HTTP_DRAIN_DELAY") || !strings.Contains(err.Error(), "KIT_LOG_LEVEL") {
		t.Errorf("bad values: %v, want an error naming both variables", err)
	}
}
