package middleware_test

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stackkit/stackkit/kit/http/middleware"
	"github.com/stackkit/stackkit/kit/http/problem"
)

// countingReader records how much of a body was read.
type countingReader struct {
	r    io.Reader
	read int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.read += n
	return n, err
}

func TestBodyLimit(t *testing.T) {
	tests := []struct {
		name          string
		size          int
		contentLength int64 // -1: unknown (chunked)
		status        int
		read          string // what the handler read; "-" when it must not run
	}{
		{name: "under", size: 5, contentLength: 5, status: 200, read: "aaaaa"},
		{name: "exactly", size: 10, contentLength: 10, status: 200, read: strings.Repeat("a", 10)},
		{name: "declared too large", size: 11, contentLength: 11, status: 413, read: "-"},
		{name: "declared larger than sent", size: 1, contentLength: 1 << 40, status: 413, read: "-"},
		{name: "streamed under", size: 10, contentLength: -1, status: 200, read: strings.Repeat("a", 10)},
		{name: "streamed too large", size: 100, contentLength: -1, status: 413},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := &countingReader{r: strings.NewReader(strings.Repeat("a", tt.size))}
			read := "-"
			h := middleware.BodyLimit(10)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, err := io.ReadAll(r.Body)
				read = string(b)
				if _, tooLarge := errors.AsType[*http.MaxBytesError](err); tooLarge {
					problem.Error(w, r, http.StatusRequestEntityTooLarge, "too large")
				}
			}))
			r := httptest.NewRequest("POST", "/", io.NopCloser(body))
			r.ContentLength = tt.contentLength
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tt.status {
				t.Errorf("status %d, want %d", w.Code, tt.status)
			}
			if tt.read != "" && read != tt.read {
				t.Errorf("handler read %q, want %q", read, tt.read)
			}
			if tt.read == "-" {
				if body.read != 0 {
					t.Errorf("%d bytes of a refused body were read", body.read)
				}
				if w.Header().Get("Content-Type") != "application/problem+json" || w.Header().Get("Connection") != "close" {
					t.Errorf("headers %v", w.Header())
				}
			}
			if tt.name == "streamed too large" && body.read > 11+512 {
				t.Errorf("read %d bytes of a body limited to 10", body.read)
			}
		})
	}
}

func TestBodyLimitNoBody(t *testing.T) {
	var body io.ReadCloser
	h := middleware.BodyLimit(10)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { body = r.Body }))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	if body != http.NoBody {
		t.Errorf("GET body replaced by %T", body)
	}
}

// TestBodyLimitOverTheWire streams a chunked body past the limit to a real server.
func TestBodyLimitOverTheWire(t *testing.T) {
	h := middleware.RequestID()(middleware.BodyLimit(1024)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.Copy(io.Discard, r.Body); err != nil {
			problem.Error(w, r, http.StatusRequestEntityTooLarge, "too large")
		}
	})))
	srv := httptest.NewServer(h)
	defer srv.Close()
	for size, want := range map[int]int{1000: 200, 5000: 413} {
		// An io.Reader that is not a *bytes.Reader makes the client send chunks.
		resp, err := srv.Client().Post(srv.URL, "application/octet-stream", io.MultiReader(bytes.NewReader(make([]byte, size))))
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("%d bytes: %d, want %d", size, resp.StatusCode, want)
		}
	}
	resp, err := srv.Client().Post(srv.URL, "text/plain", strings.NewReader(strings.Repeat("a", 5000)))
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != 413 {
		t.Errorf("Content-Length 5000: %d", resp.StatusCode)
	}
}

func BenchmarkBodyLimit(b *testing.B) {
	h := middleware.BodyLimit(1 << 20)(helloHandler)
	b.Run("get", func(b *testing.B) {
		benchServe(b, h, httptest.NewRequest("GET", "/", nil))
	})
	b.Run("post", func(b *testing.B) {
		body := io.NopCloser(strings.NewReader("{}"))
		r := httptest.NewRequest("POST", "/", body)
		w := newAllocFreeWriter()
		b.ReportAllocs()
		for b.Loop() {
			r.Body = body // BodyLimit wraps the request's body in place
			w.reset()
			h.ServeHTTP(w, r)
		}
	})
}
