package middleware_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/trace"

	"github.com/stackkit/stackkit/kit/http/internal/reqctx"
	"github.com/stackkit/stackkit/kit/http/middleware"
)

// jsonLogger returns a logger writing JSON records to buf, and a function parsing them.
func jsonLogger(level slog.Level) (*slog.Logger, func(t *testing.T) []map[string]any) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: level}))
	return logger, func(t *testing.T) []map[string]any {
		t.Helper()
		var recs []map[string]any
		for line := range strings.Lines(buf.String()) {
			var m map[string]any
			if err := json.Unmarshal([]byte(line), &m); err != nil {
				t.Fatalf("log line %q: %v", line, err)
			}
			recs = append(recs, m)
		}
		return recs
	}
}

func TestAccessLog(t *testing.T) {
	tests := []struct {
		name    string
		opts    []middleware.AccessLogOption
		target  string
		status  int // written by the handler; 0 writes nothing
		body    string
		level   string
		want    map[string]any // subset of the record
		noQuery bool
		skipped bool
	}{
		{
			name: "ok", target: "/orders/42?access_token=secret", status: 201, body: "created", level: "INFO",
			want: map[string]any{
				"msg": "http request", "method": "GET", "path": "/orders/42", "status": 201.0, "bytes": 7.0,
				"client_ip": "192.0.2.1", "request_id": "req-1", "user_agent": "test-agent/1.0",
			},
			noQuery: true,
		},
		{name: "nothing written", target: "/", level: "INFO", want: map[string]any{"status": 200.0, "bytes": 0.0}},
		{name: "client error", target: "/", status: 404, level: "INFO", want: map[string]any{"status": 404.0}},
		{name: "server error", target: "/", status: 503, level: "ERROR", want: map[string]any{"status": 503.0}},
		{
			name: "levels", opts: []middleware.AccessLogOption{middleware.LogLevels(slog.LevelDebug, slog.LevelWarn)},
			target: "/", status: 500, level: "WARN",
		},
		{
			name: "query redacted", opts: []middleware.AccessLogOption{middleware.LogQuery(true)},
			target: "/search?q=go&access_token=abc&api%5Fkey=k&password&page=2", status: 200, level: "INFO",
			want: map[string]any{"path": "/search", "query": "q=go&access_token=xxxxx&api%5Fkey=xxxxx&password&page=2"},
		},
		{
			name: "skipped", opts: []middleware.AccessLogOption{middleware.SkipPaths("/healthz", "/readyz")},
			target: "/healthz", status: 200, skipped: true,
		},
		{
			name: "not skipped", opts: []middleware.AccessLogOption{middleware.SkipPaths("/healthz")},
			target: "/healthz/x", status: 200, level: "INFO",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logger, records := jsonLogger(slog.LevelDebug)
			h := middleware.RequestID()(middleware.AccessLog(logger, tt.opts...)(http.HandlerFunc(
				func(w http.ResponseWriter, r *http.Request) {
					if tt.status != 0 {
						w.WriteHeader(tt.status)
					}
					_, _ = io.WriteString(w, tt.body)
				})))
			r := httptest.NewRequest("GET", tt.target, nil)
			r.RemoteAddr = "192.0.2.1:4321"
			r.Header.Set("X-Request-Id", "req-1")
			r.Header.Set("User-Agent", "test-agent/1.0")
			h.ServeHTTP(httptest.NewRecorder(), r)

			recs := records(t)
			if tt.skipped {
				if len(recs) != 0 {
					t.Fatalf("logged a skipped path: %v", recs)
				}
				return
			}
			if len(recs) != 1 {
				t.Fatalf("%d records, want 1", len(recs))
			}
			rec := recs[0]
			if rec["level"] != tt.level {
				t.Errorf("level %v, want %s", rec["level"], tt.level)
			}
			for k, v := range tt.want {
				if rec[k] != v {
					t.Errorf("%s = %#v, want %#v", k, rec[k], v)
				}
			}
			if d, ok := rec["duration"].(float64); !ok || d <= 0 {
				t.Errorf("duration = %v", rec["duration"])
			}
			if _, has := rec["query"]; has && tt.noQuery {
				t.Errorf("query logged without LogQuery: %v", rec["query"])
			}
		})
	}
}

func TestAccessLogAborted(t *testing.T) {
	logger, records := jsonLogger(slog.LevelInfo)
	h := middleware.AccessLog(logger)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		panic(http.ErrAbortHandler)
	}))
	func() {
		defer func() {
			if v := recover(); v != http.ErrAbortHandler {
				t.Errorf("recovered %v, want http.ErrAbortHandler passed on", v)
			}
		}()
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	}()
	recs := records(t)
	if len(recs) != 1 || recs[0]["level"] != "ERROR" || recs[0]["aborted"] != true {
		t.Errorf("records %v", recs)
	}
}

func TestAccessLogDisabledAllocs(t *testing.T) {
	logger, records := jsonLogger(slog.LevelWarn)
	h := middleware.AccessLog(logger)(helloHandler)
	// The request state is shared by the whole stack and allocated by its first layer; what
	// AccessLog itself costs is measured on a request that already has it.
	w := newAllocFreeWriter()
	_, sw, r := reqctx.Ensure(w, httptest.NewRequest("GET", "/orders?x=1", nil))
	allocs := testing.AllocsPerRun(100, func() { h.ServeHTTP(sw, r) })
	if allocs != 0 {
		t.Errorf("%v allocations per request with the logger disabled, want 0", allocs)
	}
	if recs := records(t); len(recs) != 0 {
		t.Errorf("logged %v", recs)
	}
}

func TestLogHandler(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(middleware.LogHandler(slog.NewJSONHandler(&buf, nil)))
	traceID, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	spanID, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	spanCtx := trace.ContextWithSpanContext(context.Background(),
		trace.NewSpanContext(trace.SpanContextConfig{TraceID: traceID, SpanID: spanID, TraceFlags: trace.FlagsSampled}))

	tests := []struct {
		name string
		log  func()
		want map[string]any // nil value: absent
	}{
		{
			name: "request",
			log: func() {
				logger.InfoContext(reqctx.WithRequestID(context.Background(), "req-9"), "charging", "amount", 3)
			},
			want: map[string]any{"request_id": "req-9", "amount": 3.0, "trace_id": nil},
		},
		{
			name: "no context",
			log:  func() { logger.Info("boot") },
			want: map[string]any{"request_id": nil, "trace_id": nil},
		},
		{
			name: "explicit request_id kept",
			log: func() {
				logger.InfoContext(reqctx.WithRequestID(context.Background(), "req-9"), "x", "request_id", "mine")
			},
			want: map[string]any{"request_id": "mine"},
		},
		{
			name: "span",
			log:  func() { logger.InfoContext(reqctx.WithRequestID(spanCtx, "req-9"), "x") },
			want: map[string]any{"request_id": "req-9", "trace_id": traceID.String(), "span_id": spanID.String()},
		},
		{
			name: "with attrs",
			log: func() {
				logger.With("component", "billing").InfoContext(reqctx.WithRequestID(context.Background(), "req-9"), "x")
			},
			want: map[string]any{"request_id": "req-9", "component": "billing"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			buf.Reset()
			tt.log()
			var rec map[string]any
			if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
				t.Fatalf("%q: %v", buf.String(), err)
			}
			for k, v := range tt.want {
				if got, has := rec[k]; v == nil && has || v != nil && got != v {
					t.Errorf("%s = %#v, want %#v", k, got, v)
				}
			}
			if n := strings.Count(buf.String(), `"request_id"`); n > 1 {
				t.Errorf("request_id appears %d times: %s", n, buf.String())
			}
		})
	}
}

func TestLogHandlerThroughMiddleware(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(middleware.LogHandler(slog.NewJSONHandler(&buf, nil)))
	h := middleware.RequestID()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		logger.InfoContext(r.Context(), "in handler")
	}))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	id := w.Header().Get("X-Request-Id")
	if id == "" || !strings.Contains(buf.String(), `"request_id":"`+id+`"`) {
		t.Errorf("log %s lacks request ID %q", buf.String(), id)
	}
}

func BenchmarkAccessLog(b *testing.B) {
	b.Run("disabled", func(b *testing.B) {
		logger := slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelWarn}))
		benchServe(b, middleware.AccessLog(logger)(helloHandler), httptest.NewRequest("GET", "/", nil))
	})
	b.Run("enabled", func(b *testing.B) {
		logger := slog.New(slog.NewJSONHandler(io.Discard, nil))
		benchServe(b, middleware.AccessLog(logger)(helloHandler), httptest.NewRequest("GET", "/", nil))
	})
}
