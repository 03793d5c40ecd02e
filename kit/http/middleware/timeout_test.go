package middleware_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stackkit/stackkit/kit/http/middleware"
)

func TestTimeoutExpires(t *testing.T) {
	lateErr := make(chan error, 1)
	h := middleware.RequestID()(middleware.Timeout(20 * time.Millisecond)(http.HandlerFunc(
		func(w http.ResponseWriter, r *http.Request) {
			<-r.Context().Done()
			time.Sleep(10 * time.Millisecond) // let the 503 go out first
			w.Header().Set("X-Late", "1")
			_, err := io.WriteString(w, "late")
			lateErr <- err
		})))
	r := httptest.NewRequest("GET", "/report", nil)
	r.Header.Set("X-Request-Id", "req-3")
	w := httptest.NewRecorder()
	start := time.Now()
	h.ServeHTTP(w, r)
	if elapsed := time.Since(start); elapsed > time.Second {
		t.Errorf("answered after %v", elapsed)
	}
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Content-Type") != "application/problem+json" {
		t.Fatalf("%d %v", w.Code, w.Header())
	}
	var body map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body["detail"] != "request timed out" || body["request_id"] != "req-3" {
		t.Errorf("body %s", w.Body)
	}
	if err := <-lateErr; !errors.Is(err, http.ErrHandlerTimeout) {
		t.Errorf("late write: %v, want http.ErrHandlerTimeout", err)
	}
	if strings.Contains(w.Body.String(), "late") || w.Header().Get("X-Late") != "" {
		t.Errorf("late output reached the response: %v %s", w.Header(), w.Body)
	}
}

func TestTimeoutInTime(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
		status  int
		body    string
		header  string // X-Handler value
	}{
		{
			name: "writes",
			handler: func(w http.ResponseWriter, r *http.Request) {
				if _, ok := r.Context().Deadline(); !ok {
					t.Error("no deadline in the handler's context")
				}
				w.Header().Set("X-Handler", "yes")
				w.WriteHeader(http.StatusCreated)
				_, _ = io.WriteString(w, "done")
			},
			status: 201, body: "done", header: "yes",
		},
		{
			name:    "headers only",
			handler: func(w http.ResponseWriter, r *http.Request) { w.Header().Set("X-Handler", "bare") },
			status:  200, header: "bare",
		},
		{
			name: "started before the deadline",
			handler: func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.WriteString(w, "first ")
				http.NewResponseController(w).Flush()
				<-r.Context().Done()
				_, _ = io.WriteString(w, "second")
			},
			status: 200, body: "first second",
		},
		{
			name: "deletes an outer header",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Del("X-Outer")
				w.Header().Set("X-Handler", "del")
			},
			status: 200, header: "del",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := middleware.Timeout(50 * time.Millisecond)(tt.handler)
			w := httptest.NewRecorder()
			w.Header().Set("X-Outer", "outer")
			h.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
			if w.Code != tt.status || w.Body.String() != tt.body || w.Header().Get("X-Handler") != tt.header {
				t.Errorf("%d %q %v", w.Code, w.Body, w.Header())
			}
			if outer := w.Header().Get("X-Outer"); (outer == "") != (tt.name == "deletes an outer header") {
				t.Errorf("X-Outer %q", outer)
			}
		})
	}
}

func TestTimeoutCanceled(t *testing.T) {
	h := middleware.Timeout(time.Minute)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	ctx, cancel := context.WithCancel(context.Background())
	r := httptest.NewRequest("GET", "/", nil).WithContext(ctx)
	w := httptest.NewRecorder()
	time.AfterFunc(10*time.Millisecond, cancel)
	h.ServeHTTP(w, r)
	if w.Code != 503 || !strings.Contains(w.Body.String(), "request canceled") {
		t.Errorf("%d %s", w.Code, w.Body)
	}
}

func TestTimeoutPanic(t *testing.T) {
	logger, records := jsonLogger(slog.LevelInfo)
	h := middleware.Recover(logger)(middleware.Timeout(time.Second)(http.HandlerFunc(
		func(w http.ResponseWriter, r *http.Request) { panic("in handler goroutine") })))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	if w.Code != 500 {
		t.Errorf("status %d", w.Code)
	}
	recs := records(t)
	if len(recs) != 1 || recs[0]["panic"] != "in handler goroutine" {
		t.Fatalf("records %v", recs)
	}
	if stack, _ := recs[0]["stack"].(string); !strings.Contains(stack, "timeout_test.go") {
		t.Errorf("stack is not the handler goroutine's:\n%s", stack)
	}

	abort := middleware.Timeout(time.Second)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		panic(http.ErrAbortHandler)
	}))
	defer func() {
		if v := recover(); v != http.ErrAbortHandler {
			t.Errorf("recovered %v, want http.ErrAbortHandler as is", v)
		}
	}()
	abort.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
}

// TestTimeoutServer runs handlers that finish on both sides of the deadline concurrently on a
// real server, for the race detector.
func TestTimeoutServer(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /sleep", func(w http.ResponseWriter, r *http.Request) {
		d, _ := time.ParseDuration(r.URL.Query().Get("d"))
		select {
		case <-time.After(d):
		case <-r.Context().Done():
		}
		w.Header().Set("X-Done", "1")
		_, _ = io.WriteString(w, "slept")
	})
	srv := httptest.NewServer(middleware.Timeout(30 * time.Millisecond)(mux))
	defer srv.Close()
	var wg sync.WaitGroup
	for i := range 30 {
		wg.Go(func() {
			d := time.Duration(i%3) * 25 * time.Millisecond // 0, 25ms, 50ms
			resp, err := srv.Client().Get(srv.URL + "/sleep?d=" + d.String())
			if err != nil {
				t.Error(err)
				return
			}
			body, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			switch resp.StatusCode {
			case 200:
				if string(body) != "slept" || d > 30*time.Millisecond {
					t.Errorf("d=%v: 200 %q", d, body)
				}
			case 503:
				if d == 0 || resp.Header.Get("X-Done") != "" {
					t.Errorf("d=%v: 503 %v", d, resp.Header)
				}
			default:
				t.Errorf("d=%v: status %d", d, resp.StatusCode)
			}
		})
	}
	wg.Wait()
}

func TestTimeoutDisabled(t *testing.T) {
	if h := middleware.Timeout(0)(helloHandler); h == nil {
		t.Fatal("nil handler")
	}
	w := httptest.NewRecorder()
	middleware.Timeout(-1)(helloHandler).ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	if w.Code != 200 {
		t.Errorf("status %d", w.Code)
	}
}

func BenchmarkTimeout(b *testing.B) {
	benchServe(b, middleware.Timeout(time.Second)(helloHandler), httptest.NewRequest("GET", "/", nil))
}
