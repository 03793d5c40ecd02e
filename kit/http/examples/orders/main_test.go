package main

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stackkit/stackkit/kit/http/health"
)

func TestOrdersService(t *testing.T) {
	handler, err := newHandler(slog.New(slog.DiscardHandler), health.New(), []string{"orders.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	do := func(method, target, host, body string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, target, strings.NewReader(body))
		r.Host = host
		if body != "" {
			r.Header.Set("Content-Type", "application/json")
		}
		w := httptest.NewRecorder()
		handler.ServeHTTP(w, r)
		return w
	}

	w := do("POST", "/orders", "orders.example.com", `{"item":"tea","count":2}`)
	var created order
	if err := json.Unmarshal(w.Body.Bytes(), &created); w.Code != 201 || err != nil || created.ID != 1 {
		t.Fatalf("create: %d %s", w.Code, w.Body)
	}
	if w.Header().Get("X-Request-Id") == "" || w.Header().Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("default stack headers missing: %v", w.Header())
	}
	if w := do("POST", "/orders", "orders.example.com", `{"item":"tea","cuont":2}`); w.Code != 400 || !strings.Contains(w.Body.String(), `unknown field \"cuont\"`) {
		t.Errorf("unknown field: %d %s", w.Code, w.Body)
	}
	if w := do("GET", "/orders/abc", "orders.example.com", ""); w.Code != 400 || w.Header().Get("Content-Type") != "application/problem+json" {
		t.Errorf("bad id: %d %s", w.Code, w.Body)
	}
	if w := do("GET", "/orders/1", "evil.example.net", ""); w.Code != 400 {
		t.Errorf("forged Host: %d, want 400", w.Code)
	}
	if w := do("GET", "/readyz", "10.0.0.5:8080", ""); w.Code != 200 {
		t.Errorf("readyz by pod IP: %d, want 200 (health endpoints are exempt from the host check)", w.Code)
	}
	if w := do("GET", "/orders/7", "orders.example.com", ""); w.Code != http.StatusOK {
		t.Errorf("get: %d", w.Code)
	}
}
