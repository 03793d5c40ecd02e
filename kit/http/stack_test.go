package http_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	kithttp "github.com/stackkit/stackkit/kit/http"
	"github.com/stackkit/stackkit/kit/http/health"
	"github.com/stackkit/stackkit/kit/http/middleware"
)

// lockedBuffer collects log output written by server goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}
func (b *lockedBuffer) String() string { b.mu.Lock(); defer b.mu.Unlock(); return b.buf.String() }

func stackServer(t *testing.T, logs *lockedBuffer, cfg kithttp.StackConfig) string {
	t.Helper()
	h := health.New(health.WithLogger(quietLogger))
	mux := http.NewServeMux()
	h.Register(mux)
	mux.HandleFunc("GET /hello", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "hello")
	})
	mux.HandleFunc("GET /big", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, strings.Repeat("stackkit ", 1000))
	})
	mux.HandleFunc("GET /panic", func(w http.ResponseWriter, r *http.Request) { panic("handler bug") })
	mux.HandleFunc("POST /echo", func(w http.ResponseWriter, r *http.Request) {
		var v map[string]any
		if err := kithttp.DecodeJSON(w, r, &v); err != nil {
			kithttp.WriteError(w, r, err)
			return
		}
		_ = json.NewEncoder(w).Encode(v)
	})
	cfg.Logger = slog.New(middleware.LogHandler(slog.NewJSONHandler(logs, nil)))
	cfg.Health = h
	stack, err := kithttp.DefaultStack(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv, _ := startServer(t, stack(mux), kithttp.WithHealth(h))
	return "http://" + srv.Addr().String()
}

func TestStackPanicGives500WhileOthersSucceed(t *testing.T) {
	var logs lockedBuffer
	base := stackServer(t, &logs, kithttp.StackConfig{})
	var wg sync.WaitGroup
	errs := make(chan string, 100)
	for i := range 40 {
		wg.Go(func() {
			path := "/hello"
			if i%4 == 0 {
				path = "/panic"
			}
			resp, err := http.Get(base + path)
			if err != nil {
				errs <- err.Error()
				return
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			switch {
			case path == "/panic" && (resp.StatusCode != 500 || resp.Header.Get("Content-Type") != "application/problem+json"):
				errs <- "panic: " + resp.Status + " " + string(body)
			case path == "/hello" && (resp.StatusCode != 200 || string(body) != "hello"):
				errs <- "hello: " + resp.Status + " " + string(body)
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

func TestStackForgedHost400(t *testing.T) {
	var logs lockedBuffer
	base := stackServer(t, &logs, kithttp.StackConfig{AllowedHosts: []string{".example.com"}})
	req, _ := http.NewRequest("GET", base+"/hello", nil)
	req.Host = "attacker.example.net"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Errorf("forged Host: %d, want 400", resp.StatusCode)
	}
	req.Host = "api.example.com"
	if resp, err = http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("allowed Host: %v %v", resp, err)
	}
	resp.Body.Close()
	// Probes reach the pod by IP: health endpoints are exempt.
	if resp, err = http.Get(base + "/readyz"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("/readyz by IP: %v %v", resp, err)
	}
	resp.Body.Close()
}

func TestStackHeadersLogsAndCompression(t *testing.T) {
	var logs lockedBuffer
	base := stackServer(t, &logs, kithttp.StackConfig{})
	req, _ := http.NewRequest("GET", base+"/big", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	req.Header.Set("X-Request-Id", "client-chosen-id")
	resp, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	for name, want := range map[string]string{
		"X-Request-Id": "client-chosen-id", "X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY",
		"Referrer-Policy": "same-origin", "Cross-Origin-Opener-Policy": "same-origin", "Content-Encoding": "gzip",
	} {
		if got := resp.Header.Get(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if resp.Header.Get("Strict-Transport-Security") != "" {
		t.Error("HSTS sent over plain HTTP")
	}
	zr, err := gzip.NewReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(zr)
	if string(body) != strings.Repeat("stackkit ", 1000) {
		t.Errorf("decompressed body differs (%d bytes)", len(body))
	}
	// Health probes are not access-logged; requests are, with their request ID.
	resp2, _ := http.Get(base + "/healthz")
	resp2.Body.Close()
	if !strings.Contains(logs.String(), `"request_id":"client-chosen-id"`) {
		t.Errorf("access log lacks the request ID:\n%s", logs.String())
	}
	if strings.Contains(logs.String(), "/healthz") {
		t.Errorf("health probe was access-logged:\n%s", logs.String())
	}
}

func TestStackCrossOriginAndBodyLimit(t *testing.T) {
	var logs lockedBuffer
	base := stackServer(t, &logs, kithttp.StackConfig{BodyLimit: 1024})
	post := func(body string, hdr map[string]string) int {
		req, _ := http.NewRequest("POST", base+"/echo", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post(`{"a":1}`, nil); code != 200 {
		t.Errorf("same-origin/non-browser POST: %d", code)
	}
	if code := post(`{"a":1}`, map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}); code != 403 {
		t.Errorf("cross-site POST: %d, want 403", code)
	}
	if code := post(`{"a":"`+strings.Repeat("x", 4096)+`"}`, nil); code != 413 {
		t.Errorf("oversized body: %d, want 413", code)
	}
}
