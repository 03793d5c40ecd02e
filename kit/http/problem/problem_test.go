package problem_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stackkit/stackkit/kit/http/internal/reqctx"
	"github.com/stackkit/stackkit/kit/http/problem"
)

func TestWrite(t *testing.T) {
	r := httptest.NewRequest("POST", "/orders", nil)
	r = r.WithContext(reqctx.WithRequestID(r.Context(), "req-1"))
	w := httptest.NewRecorder()
	problem.Write(w, r, problem.Details{
		Type: "https://example.com/probs/out-of-credit", Status: http.StatusForbidden,
		Detail: "balance 30, cost 50", Extensions: map[string]any{"balance": 30, "status": "overridden?"},
	})
	if w.Code != 403 || w.Header().Get("Content-Type") != "application/problem+json" {
		t.Fatalf("status %d, content type %q", w.Code, w.Header().Get("Content-Type"))
	}
	var body map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"type": "https://example.com/probs/out-of-credit", "title": "Forbidden", "status": 403.0,
		"detail": "balance 30, cost 50", "balance": 30.0, "request_id": "req-1",
	}
	for k, v := range want {
		if body[k] != v {
			t.Errorf("%s = %v, want %v", k, body[k], v)
		}
	}
}

func TestErrorDefaults(t *testing.T) {
	w := httptest.NewRecorder()
	problem.Write(w, httptest.NewRequest("GET", "/", nil), problem.Details{})
	var body map[string]any
	_ = json.Unmarshal(w.Body.Bytes(), &body)
	if w.Code != 500 || body["title"] != "Internal Server Error" || body["status"] != 500.0 {
		t.Errorf("defaults: %d %v", w.Code, body)
	}
	if _, has := body["request_id"]; has {
		t.Error("request_id present without a request ID")
	}
	w = httptest.NewRecorder()
	problem.Error(w, httptest.NewRequest("HEAD", "/", nil), 404, "gone")
	if w.Code != 404 || w.Body.Len() != 0 {
		t.Errorf("HEAD: %d with %d body bytes", w.Code, w.Body.Len())
	}
}
