package middleware_test

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/stackkit/stackkit/kit/http/middleware"
)

// allocFreeWriter is a ResponseWriter that allocates nothing, for allocation counts and
// benchmarks (httptest.ResponseRecorder allocates on its own).
type allocFreeWriter struct {
	h    http.Header
	code int
	n    int
}

func newAllocFreeWriter() *allocFreeWriter { return &allocFreeWriter{h: make(http.Header, 16)} }

func (w *allocFreeWriter) Header() http.Header { return w.h }

func (w *allocFreeWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}

func (w *allocFreeWriter) Write(p []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	w.n += len(p)
	return len(p), nil
}

func (w *allocFreeWriter) reset() {
	clear(w.h)
	w.code, w.n = 0, 0
}

var helloBody = []byte("hello\n")

// helloHandler is the trivial handler every benchmark wraps.
var helloHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(helloBody) })

// benchServe runs h on r with a reused writer.
func benchServe(b *testing.B, h http.Handler, r *http.Request) {
	b.Helper()
	w := newAllocFreeWriter()
	b.ReportAllocs()
	for b.Loop() {
		w.reset()
		h.ServeHTTP(w, r)
	}
}

var generatedID = regexp.MustCompile(`^[0-9a-f]{32}$`)

func TestRequestID(t *testing.T) {
	long := strings.Repeat("a", 128)
	tests := []struct {
		name     string
		opts     []middleware.RequestIDOption
		header   string // request header name
		incoming string
		want     string // "" means a generated ID
	}{
		{name: "accepted", incoming: "abc-123_x.y:z", want: "abc-123_x.y:z"},
		{name: "accepted at 128", incoming: long, want: long},
		{name: "absent"},
		{name: "too long", incoming: long + "a"},
		{name: "space", incoming: "abc 123"},
		{name: "markup", incoming: "<script>"},
		{name: "newline", incoming: "abc\n123"},
		{name: "untrusted", opts: []middleware.RequestIDOption{middleware.TrustRequestID(false)}, incoming: "abc"},
		{
			name: "custom header", opts: []middleware.RequestIDOption{middleware.WithRequestIDHeader("x-correlation-id")},
			header: "X-Correlation-Id", incoming: "corr-1", want: "corr-1",
		},
		{
			name: "custom header ignores default", opts: []middleware.RequestIDOption{middleware.WithRequestIDHeader("X-Correlation-Id")},
			header: "X-Request-Id", incoming: "abc",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var seen string
			h := middleware.RequestID(tt.opts...)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				seen = middleware.GetRequestID(r.Context())
			}))
			r := httptest.NewRequest("GET", "/", nil)
			header := tt.header
			if header == "" {
				header = "X-Request-Id"
			}
			if tt.incoming != "" {
				r.Header.Set(header, tt.incoming)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)

			if tt.want != "" && seen != tt.want {
				t.Errorf("request ID %q, want %q", seen, tt.want)
			}
			if tt.want == "" && !generatedID.MatchString(seen) {
				t.Errorf("request ID %q, want a generated one", seen)
			}
			echoHeader := "X-Request-Id"
			if len(tt.opts) > 0 && tt.name != "untrusted" {
				echoHeader = "X-Correlation-Id"
			}
			if got := w.Header().Values(echoHeader); len(got) != 1 || got[0] != seen {
				t.Errorf("response %s = %q, want [%q]", echoHeader, got, seen)
			}
		})
	}
}

func TestRequestIDUnique(t *testing.T) {
	h := middleware.RequestID()(helloHandler)
	seen := make(map[string]bool)
	for range 1000 {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
		id := w.Header().Get("X-Request-Id")
		if seen[id] {
			t.Fatalf("duplicate ID %q", id)
		}
		seen[id] = true
	}
}

func TestRequestIDInProblem(t *testing.T) {
	hosts, err := middleware.AllowedHosts([]string{"example.com"})
	if err != nil {
		t.Fatal(err)
	}
	h := middleware.RequestID()(hosts(helloHandler))
	r := httptest.NewRequest("GET", "/", nil)
	r.Host = "evil.com"
	r.Header.Set("X-Request-Id", "req-42")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != 400 || !strings.Contains(w.Body.String(), `"request_id":"req-42"`) {
		t.Errorf("%d %s", w.Code, w.Body)
	}
	if w.Header().Get("X-Request-Id") != "req-42" {
		t.Errorf("X-Request-Id %q on a problem response", w.Header().Get("X-Request-Id"))
	}
}

func TestGetRequestIDOutsideRequest(t *testing.T) {
	if id := middleware.GetRequestID(t.Context()); id != "" {
		t.Errorf("GetRequestID = %q without a request", id)
	}
}

func BenchmarkRequestID(b *testing.B) {
	h := middleware.RequestID()(helloHandler)
	b.Run("generated", func(b *testing.B) {
		benchServe(b, h, httptest.NewRequest("GET", "/", nil))
	})
	b.Run("accepted", func(b *testing.B) {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("X-Request-Id", "0123456789abcdef0123456789abcdef")
		benchServe(b, h, r)
	})
}
