package middleware

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/stackkit/stackkit/kit/http/internal/reqctx"
	"github.com/stackkit/stackkit/kit/registry"
)

// AccessLogOption configures AccessLog.
type AccessLogOption func(*accessLogConfig)

type accessLogConfig struct {
	level      slog.Level
	errorLevel slog.Level
	query      bool
	skip       map[string]struct{}
}

// LogLevels sets the level of ordinary requests (default Info) and of requests answered with a
// 5xx status (default Error).
func LogLevels(ok, serverError slog.Level) AccessLogOption {
	return func(c *accessLogConfig) { c.level, c.errorLevel = ok, serverError }
}

// LogQuery adds the query string to each record as "query", with the values of secret
// parameters (token, password, api_key, ...; see registry.IsSecretParam) replaced by "xxxxx".
// It is off by default because query strings carry credentials more often than they should.
func LogQuery(include bool) AccessLogOption {
	return func(c *accessLogConfig) { c.query = include }
}

// SkipPaths leaves requests for these exact paths out of the log, typically the health
// endpoints that probes hit every few seconds.
func SkipPaths(paths ...string) AccessLogOption {
	return func(c *accessLogConfig) {
		if c.skip == nil {
			c.skip = make(map[string]struct{}, len(paths))
		}
		for _, p := range paths {
			c.skip[p] = struct{}{}
		}
	}
}

// AccessLog writes one record per request to logger (slog.Default() when nil) once the response
// is complete, with method, path, status, bytes, duration, client_ip, request_id and
// user_agent. The path has no query string unless [LogQuery] is set.
//
//	logger := slog.New(middleware.LogHandler(slog.NewJSONHandler(os.Stderr, nil)))
//	handler := middleware.AccessLog(logger, middleware.SkipPaths("/healthz", "/readyz"))(mux)
//
// When the logger is not enabled at the record's level nothing is formatted or allocated. A
// request whose handler panics through AccessLog (a panic that no inner [Recover] turned into a
// 500) is logged at the error level with "aborted" set.
func AccessLog(logger *slog.Logger, opts ...AccessLogOption) func(http.Handler) http.Handler {
	if logger == nil {
		logger = slog.Default()
	}
	c := accessLogConfig{level: slog.LevelInfo, errorLevel: slog.LevelError}
	for _, o := range opts {
		o(&c)
	}
	return func(next http.Handler) http.Handler {
		return &accessLogHandler{logger: logger, cfg: c, next: next}
	}
}

type accessLogHandler struct {
	logger *slog.Logger
	cfg    accessLogConfig
	next   http.Handler
}

// accessLogRequest is what the deferred logging needs; it lives on ServeHTTP's stack.
type accessLogRequest struct {
	r     *http.Request
	s     *reqctx.State
	start time.Time
	done  bool
}

func (h *accessLogHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if _, skip := h.cfg.skip[r.URL.Path]; skip || !h.logger.Enabled(r.Context(), min(h.cfg.level, h.cfg.errorLevel)) {
		h.next.ServeHTTP(w, r) // nothing would be logged: no clock, no state, no defer
		return
	}
	req := accessLogRequest{start: time.Now()}
	req.s, w, req.r = reqctx.Ensure(w, r)
	defer h.log(&req)
	h.next.ServeHTTP(w, req.r)
	req.done = true
}

func (h *accessLogHandler) log(req *accessLogRequest) {
	status := req.s.Writer.Status()
	if status == 0 && req.done {
		status = http.StatusOK // what net/http sends for a handler that wrote nothing
	}
	level := h.cfg.level
	if status >= 500 || !req.done {
		level = h.cfg.errorLevel
	}
	r := req.r
	ctx := r.Context()
	if !h.logger.Enabled(ctx, level) {
		return
	}
	attrs := [10]slog.Attr{
		slog.String("method", r.Method),
		slog.String("path", r.URL.Path),
		slog.Int("status", status),
		slog.Int64("bytes", req.s.Writer.Written()),
		slog.Duration("duration", time.Since(req.start)),
		slog.String("client_ip", ClientIP(r)),
		slog.String("request_id", req.s.RequestID),
		slog.String("user_agent", r.UserAgent()),
	}
	n := 8
	if h.cfg.query && r.URL.RawQuery != "" {
		attrs[n] = slog.String("query", accessLogRedactQuery(r.URL.RawQuery))
		n++
	}
	if !req.done {
		attrs[n] = slog.Bool("aborted", true)
		n++
	}
	h.logger.LogAttrs(ctx, level, "http request", attrs[:n]...)
}

// accessLogRedactQuery replaces the values of secret parameters, leaving the rest of the raw
// query as the client sent it.
func accessLogRedactQuery(raw string) string {
	var b strings.Builder
	b.Grow(len(raw))
	for rest := raw; ; {
		pair, next, more := strings.Cut(rest, "&")
		key, _, hasValue := strings.Cut(pair, "=")
		name, err := url.QueryUnescape(key)
		if err != nil {
			name = key
		}
		if hasValue && registry.IsSecretParam(name) {
			b.WriteString(key)
			b.WriteString("=xxxxx")
		} else {
			b.WriteString(pair)
		}
		if !more {
			break
		}
		b.WriteByte('&')
		rest = next
	}
	return b.String()
}

// LogHandler wraps h so that every record logged with a request's context carries that
// request's request_id, and trace_id and span_id when the context holds a valid span. This is
// how the request ID reaches application logs without building a logger per request:
//
//	slog.SetDefault(slog.New(middleware.LogHandler(slog.NewJSONHandler(os.Stderr, nil))))
//	// in a handler:
//	slog.InfoContext(r.Context(), "charging card") // ... "request_id":"4bf9...","trace_id":...
//
// Records logged without a context (slog.Info rather than slog.InfoContext) get nothing. A
// record that already has a top-level request_id keeps it. The attributes are added when the
// record is handled, so on a logger derived with WithGroup they land inside the group.
func LogHandler(h slog.Handler) slog.Handler {
	if l, ok := h.(*logHandler); ok {
		return l
	}
	return &logHandler{h: h}
}

type logHandler struct{ h slog.Handler }

func (l *logHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return l.h.Enabled(ctx, level)
}

func (l *logHandler) Handle(ctx context.Context, rec slog.Record) error {
	id := reqctx.RequestID(ctx)
	sc := trace.SpanContextFromContext(ctx)
	if id == "" && !sc.IsValid() {
		return l.h.Handle(ctx, rec)
	}
	if id != "" {
		rec.Attrs(func(a slog.Attr) bool {
			if a.Key == "request_id" {
				id = ""
				return false
			}
			return true
		})
	}
	// Clone so that appending cannot write into attributes shared with another copy.
	rec = rec.Clone()
	if id != "" {
		rec.AddAttrs(slog.String("request_id", id))
	}
	if sc.IsValid() {
		rec.AddAttrs(slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
	}
	return l.h.Handle(ctx, rec)
}

func (l *logHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &logHandler{h: l.h.WithAttrs(attrs)}
}

func (l *logHandler) WithGroup(name string) slog.Handler {
	return &logHandler{h: l.h.WithGroup(name)}
}
