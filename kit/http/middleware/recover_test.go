package middleware_test

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stackkit/stackkit/kit/http/middleware"
)

func TestRecover(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
		status  int    // of the response; 0: the panic must go on as http.ErrAbortHandler
		logged  string // panic value in the log; "" when nothing is logged
	}{
		{
			name:    "string",
			handler: func(w http.ResponseWriter, r *http.Request) { panic("boom") },
			status:  500, logged: "boom",
		},
		{
			name:    "error",
			handler: func(w http.ResponseWriter, r *http.Request) { panic(errors.New("bad state")) },
			status:  500, logged: "bad state",
		},
		{
			name: "headers set before the panic",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Set-Cookie", "session=1")
				w.Header().Set("Content-Type", "text/html")
				panic("boom")
			},
			status: 500, logged: "boom",
		},
		{
			name: "after writing",
			handler: func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.WriteString(w, "partial")
				panic("late")
			},
			logged: "late",
		},
		{
			name:    "abort",
			handler: func(w http.ResponseWriter, r *http.Request) { panic(http.ErrAbortHandler) },
		},
		{
			name:    "no panic",
			handler: func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) },
			status:  204,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logger, records := jsonLogger(slog.LevelInfo)
			h := middleware.RequestID()(middleware.Recover(logger)(tt.handler))
			r := httptest.NewRequest("POST", "/orders", nil)
			r.Header.Set("X-Request-Id", "req-7")
			w := httptest.NewRecorder()
			var recovered any
			func() {
				defer func() { recovered = recover() }()
				h.ServeHTTP(w, r)
			}()

			if tt.status == 0 {
				if recovered != http.ErrAbortHandler {
					t.Fatalf("panic %v goes on, want http.ErrAbortHandler", recovered)
				}
			} else {
				if recovered != nil {
					t.Fatalf("panic %v went through", recovered)
				}
				if w.Code != tt.status {
					t.Fatalf("status %d, want %d", w.Code, tt.status)
				}
			}
			if tt.status == 500 {
				if ct := w.Header().Get("Content-Type"); ct != "application/problem+json" {
					t.Errorf("Content-Type %q", ct)
				}
				var body map[string]any
				if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body["request_id"] != "req-7" {
					t.Errorf("body %s (%v)", w.Body, err)
				}
				if strings.Contains(w.Body.String(), tt.logged) {
					t.Errorf("the panic value reached the client: %s", w.Body)
				}
				if w.Header().Get("Set-Cookie") != "" || w.Header().Get("Cache-Control") != "no-store" {
					t.Errorf("headers %v", w.Header())
				}
				if w.Header().Get("X-Request-Id") != "req-7" {
					t.Errorf("X-Request-Id lost: %v", w.Header())
				}
			}

			recs := records(t)
			if tt.logged == "" {
				if len(recs) != 0 {
					t.Errorf("logged %v", recs)
				}
				return
			}
			if len(recs) != 1 {
				t.Fatalf("%d records, want 1", len(recs))
			}
			rec := recs[0]
			if rec["level"] != "ERROR" || rec["panic"] != tt.logged || rec["request_id"] != "req-7" ||
				rec["method"] != "POST" || rec["path"] != "/orders" {
				t.Errorf("record %v", rec)
			}
			if stack, _ := rec["stack"].(string); !strings.Contains(stack, "recover_test.go") {
				t.Errorf("stack does not show the panic site:\n%s", stack)
			}
		})
	}
}

func TestRecoverServerKeepsServing(t *testing.T) {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	mux := http.NewServeMux()
	mux.HandleFunc("GET /panic", func(w http.ResponseWriter, r *http.Request) { panic("boom") })
	mux.HandleFunc("GET /ok", func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") })
	srv := httptest.NewServer(middleware.Recover(logger)(mux))
	defer srv.Close()

	get := func(path string) (int, string) {
		resp, err := srv.Client().Get(srv.URL + path)
		if err != nil {
			t.Error(err)
			return 0, ""
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Go(func() {
			if i%2 == 0 {
				if code, _ := get("/panic"); code != 500 {
					t.Errorf("/panic: %d", code)
				}
			} else if code, body := get("/ok"); code != 200 || body != "ok" {
				t.Errorf("/ok: %d %q", code, body)
			}
		})
	}
	wg.Wait()
	if code, body := get("/ok"); code != 200 || body != "ok" {
		t.Errorf("after panics: %d %q", code, body)
	}
}

func BenchmarkRecover(b *testing.B) {
	benchServe(b, middleware.Recover(slog.New(slog.DiscardHandler))(helloHandler), httptest.NewRequest("GET", "/", nil))
}
