package bench

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	chimw "github.com/go-chi/chi/v5/middleware"
	"github.com/labstack/echo/v4"
	echomw "github.com/labstack/echo/v4/middleware"
	kithttp "github.com/stackkit/stackkit/kit/http"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
)

// The HTTP benchmarks put one trivial route, GET /hello answering "hello" as text/plain, behind
// Stackkit's default middleware stack, behind nothing (net/http's ServeMux alone), and behind
// chi and echo configured with the equivalent middleware, and serve the same pre-built request
// to each in turn. See docs/benchmarks.md for what each variant holds and why.

// httpBenchHost is the one Host every stack allows; the request is addressed to it.
const httpBenchHost = "example.com"

// httpAcceptEncoding is what current browsers send.
const httpAcceptEncoding = "gzip, deflate, br, zstd"

// httpSecurityHeaders are the security headers kit's default stack sends over plain HTTP
// (Strict-Transport-Security goes out over HTTPS only); the peers are configured to send the same.
var httpSecurityHeaders = [][2]string{
	{"X-Content-Type-Options", "nosniff"},
	{"Referrer-Policy", "same-origin"},
	{"Cross-Origin-Opener-Policy", "same-origin"},
	{"X-Frame-Options", "DENY"},
}

// httpStack is one variant: a name (the /stack= column) and its handler, built once.
type httpStack struct {
	name string
	// bare marks the variant with no middleware: only its status and body are checked.
	bare bool
	// logging variants write an access-log record per request; the others are given a logger
	// that is disabled (slog.DiscardHandler), which is what kit's target is stated for.
	logging bool
	build   func(tb testing.TB, logger *slog.Logger) http.Handler
}

var httpStacks = []httpStack{
	{name: "bare", bare: true, build: func(testing.TB, *slog.Logger) http.Handler { return helloMux() }},
	{name: "kit", build: kitStack},
	{name: "kit-logging", logging: true, build: kitStack},
	{name: "chi", build: chiStack(chiOptions{gzipLevel: gzip.BestSpeed})},
	{name: "chi-logging", logging: true, build: chiStack(chiOptions{gzipLevel: gzip.BestSpeed})},
	{name: "chi-otelhttp", build: chiStack(chiOptions{gzipLevel: gzip.BestSpeed, otel: true})},
	{name: "chi-gzip5", build: chiStack(chiOptions{gzipLevel: 5})},
	{name: "chi-nocompress", build: chiStack(chiOptions{})},
	{name: "echo", build: echoStack(gzip.BestSpeed)},
	{name: "echo-logging", logging: true, build: echoStack(gzip.BestSpeed)},
	{name: "echo-gzip5", build: echoStack(5)},
}

// benchLogger is the logger a variant gets in the benchmark: JSON records to io.Discard for
// the logging variants, a disabled logger for the others.
func (s httpStack) benchLogger() *slog.Logger {
	if s.logging {
		return slog.New(slog.NewJSONHandler(io.Discard, nil))
	}
	return slog.New(slog.DiscardHandler)
}

// BenchmarkHTTPStack serves GET http://example.com/hello through each stack. Compare the
// columns with benchstat -col /stack.
func BenchmarkHTTPStack(b *testing.B) {
	for _, s := range httpStacks {
		b.Run("stack="+s.name, func(b *testing.B) {
			h := s.build(b, s.benchLogger())
			if err := checkHelloResponse(h, s.bare); err != nil {
				b.Fatalf("stack %s does not serve the route as expected: %v", s.name, err)
			}
			req := newHelloRequest()
			w := &discardResponseWriter{}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				w.reset()
				// Middleware that wraps the body (http.MaxBytesReader and the like) may write it
				// back into the request it was given; start every iteration from net/http's empty
				// body, as a new request would.
				req.Body = http.NoBody
				h.ServeHTTP(w, req)
			}
			b.StopTimer()
			if w.status != http.StatusOK {
				b.Fatalf("stack %s: last response %d", s.name, w.status)
			}
		})
	}
}

// TestHTTPStacksEquivalent checks, before anything is timed, that every stack answers the
// benchmark's request with 200 "hello" and the same security headers, rejects a forged Host
// with 400 and a cross-site POST with 403: a benchmark that measures an error page, or a stack
// missing a piece, compares nothing.
func TestHTTPStacksEquivalent(t *testing.T) {
	for _, s := range httpStacks {
		t.Run(s.name, func(t *testing.T) {
			var logged bytes.Buffer
			logger := s.benchLogger()
			if s.logging {
				logger = slog.New(slog.NewJSONHandler(&logged, nil))
			}
			h := s.build(t, logger)
			if err := checkHelloResponse(h, s.bare); err != nil {
				t.Fatal(err)
			}
			if s.logging {
				// One record with the same fields as kit's access log.
				rec := logged.String()
				for _, want := range []string{`"method":"GET"`, `"path":"/hello"`, `"status":200`, `"request_id":"`, `"client_ip":"192.0.2.1"`} {
					if !strings.Contains(rec, want) {
						t.Errorf("access log %q lacks %s", rec, want)
					}
				}
			}
			if s.bare {
				return
			}
			forged := newHelloRequest()
			forged.Host = "evil.example.net"
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, forged)
			if rec.Code != http.StatusBadRequest {
				t.Errorf("forged Host: status %d, want 400", rec.Code)
			}
			post := httptest.NewRequest(http.MethodPost, "http://"+httpBenchHost+"/hello", strings.NewReader("x=1"))
			post.Header.Set("Sec-Fetch-Site", "cross-site")
			rec = httptest.NewRecorder()
			h.ServeHTTP(rec, post)
			if rec.Code != http.StatusForbidden {
				t.Errorf("cross-site POST: status %d, want 403", rec.Code)
			}
		})
	}
}

// helloMux is the application: net/http's ServeMux with one route.
func helloMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /hello", helloHandler)
	return mux
}

var helloBody = []byte("hello")

func helloHandler(w http.ResponseWriter, _ *http.Request) {
	w.Header()["Content-Type"] = []string{"text/plain; charset=utf-8"}
	_, _ = w.Write(helloBody)
}

// newHelloRequest is the benchmark's request, as a browser sends it (but for the headers that
// change nothing here).
func newHelloRequest() *http.Request {
	r := httptest.NewRequest(http.MethodGet, "http://"+httpBenchHost+"/hello", nil)
	r.Header.Set("Accept-Encoding", httpAcceptEncoding)
	return r
}

// checkHelloResponse serves one request through h and checks the answer.
func checkHelloResponse(h http.Handler, bare bool) error {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, newHelloRequest())
	res := rec.Result()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d, want 200 (body %q)", res.StatusCode, rec.Body.String())
	}
	body := rec.Body.Bytes()
	if res.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			return fmt.Errorf("gzip body: %v", err)
		}
		if body, err = io.ReadAll(zr); err != nil {
			return fmt.Errorf("gzip body: %v", err)
		}
	}
	if string(body) != "hello" {
		return fmt.Errorf("body %q, want \"hello\"", body)
	}
	if bare {
		return nil
	}
	for _, kv := range httpSecurityHeaders {
		if got := res.Header.Get(kv[0]); got != kv[1] {
			return fmt.Errorf("header %s: %q, want %q", kv[0], got, kv[1])
		}
	}
	if res.Header.Get("X-Request-Id") == "" {
		return fmt.Errorf("no X-Request-Id in the response")
	}
	return nil
}

// discardResponseWriter is the benchmarks' ResponseWriter: it records the status and throws the
// body away. reset gives it a new header map, as net/http makes one for every request, so that a
// stack that sets more headers pays for the map growing, as it would in a server.
type discardResponseWriter struct {
	h      http.Header
	status int
	n      int
}

func (w *discardResponseWriter) reset() {
	w.h = make(http.Header)
	w.status, w.n = 0, 0
}

func (w *discardResponseWriter) Header() http.Header { return w.h }

func (w *discardResponseWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}

func (w *discardResponseWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	w.n += len(p)
	return len(p), nil
}

// --- kit ---

// kitStack is Stackkit's default stack around the mux, with no-op OpenTelemetry providers.
func kitStack(tb testing.TB, logger *slog.Logger) http.Handler {
	stack, err := kithttp.DefaultStack(kithttp.StackConfig{
		Logger:         logger,
		AllowedHosts:   []string{httpBenchHost},
		TracerProvider: tracenoop.NewTracerProvider(),
		MeterProvider:  metricnoop.NewMeterProvider(),
	})
	if err != nil {
		tb.Fatal(err)
	}
	return stack(helloMux())
}

// --- chi ---

type chiOptions struct {
	// gzipLevel is the level of chi's Compress, 0 for none. chi has no minimum size: it gzips
	// the 5-byte body, where kit (from 1 KiB) and echo (MinLength) send it as it is.
	gzipLevel int
	otel      bool // otelhttp with no-op providers, where kit has its Telemetry
}

// chiStack is chi with the middleware of kit's default stack, in the same order.
func chiStack(o chiOptions) func(testing.TB, *slog.Logger) http.Handler {
	return func(_ testing.TB, logger *slog.Logger) http.Handler { return chiRouter(o, logger) }
}

func chiRouter(o chiOptions, logger *slog.Logger) http.Handler {
	r := chi.NewRouter()
	r.Use(chimw.RequestID, chiEchoRequestID)
	if o.otel {
		r.Use(otelhttp.NewMiddleware("server",
			otelhttp.WithTracerProvider(tracenoop.NewTracerProvider()),
			otelhttp.WithMeterProvider(metricnoop.NewMeterProvider())))
	}
	r.Use(chimw.RequestLogger(&slogFormatter{logger: logger}), chimw.Recoverer, allowHosts(httpBenchHost))
	for _, kv := range httpSecurityHeaders {
		r.Use(chimw.SetHeader(kv[0], kv[1]))
	}
	r.Use(http.NewCrossOriginProtection().Handler, chimw.RequestSize(kithttp.DefaultBodyLimit))
	if o.gzipLevel != 0 {
		r.Use(chimw.Compress(o.gzipLevel))
	}
	r.Get("/hello", helloHandler)
	return r
}

// chiEchoRequestID sends chi's request ID back in X-Request-Id, as kit and echo do (chi's
// RequestID only puts it in the context).
func chiEchoRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(chimw.RequestIDHeader, chimw.GetReqID(r.Context()))
		next.ServeHTTP(w, r)
	})
}

// allowHosts is the allowed-host check chi and echo lack: 400 unless the Host (without its port)
// is one of hosts.
func allowHosts(hosts ...string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !hostAllowed(r.Host, hosts) {
				http.Error(w, "host not allowed", http.StatusBadRequest)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

func hostAllowed(host string, hosts []string) bool {
	if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.Contains(host[i:], "]") {
		host = host[:i]
	}
	for _, h := range hosts {
		if strings.EqualFold(host, h) {
			return true
		}
	}
	return false
}

// slogFormatter is chi's RequestLogger formatter writing the record kit's AccessLog writes (the
// same eight fields, through the same slog handler). When the logger is disabled it hands out a
// shared no-op entry, so that, as in kit, nothing is formatted or allocated for the record.
type slogFormatter struct{ logger *slog.Logger }

func (f *slogFormatter) NewLogEntry(r *http.Request) chimw.LogEntry {
	if !f.logger.Enabled(r.Context(), slog.LevelInfo) {
		return noLogEntry{}
	}
	return &slogEntry{logger: f.logger, r: r}
}

type noLogEntry struct{}

func (noLogEntry) Write(int, int, http.Header, time.Duration, any) {}
func (noLogEntry) Panic(any, []byte)                               {}

type slogEntry struct {
	logger *slog.Logger
	r      *http.Request
}

func (e *slogEntry) Write(status, bytes int, _ http.Header, elapsed time.Duration, _ any) {
	r := e.r
	clientIP := r.RemoteAddr
	if i := strings.LastIndexByte(clientIP, ':'); i >= 0 {
		clientIP = clientIP[:i]
	}
	e.logger.LogAttrs(r.Context(), slog.LevelInfo, "http request",
		slog.String("method", r.Method),
		slog.String("path", r.URL.Path),
		slog.Int("status", status),
		slog.Int("bytes", bytes),
		slog.Duration("duration", elapsed),
		slog.String("client_ip", clientIP),
		slog.String("request_id", chimw.GetReqID(r.Context())),
		slog.String("user_agent", r.UserAgent()),
	)
}

func (e *slogEntry) Panic(v any, stack []byte) {
	e.logger.LogAttrs(e.r.Context(), slog.LevelError, "panic serving request",
		slog.Any("panic", v), slog.String("stack", string(stack)))
}

// --- echo ---

// echoStack is echo with the middleware of kit's default stack, in the same order, gzipping at
// gzipLevel from 1 KiB.
func echoStack(gzipLevel int) func(testing.TB, *slog.Logger) http.Handler {
	return func(_ testing.TB, logger *slog.Logger) http.Handler { return echoServer(gzipLevel, logger) }
}

func echoServer(gzipLevel int, logger *slog.Logger) http.Handler {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.Use(
		echomw.RequestID(),
		echomw.RequestLoggerWithConfig(echomw.RequestLoggerConfig{
			LogMethod: true, LogURIPath: true, LogStatus: true, LogResponseSize: true,
			LogLatency: true, LogRemoteIP: true, LogRequestID: true, LogUserAgent: true,
			HandleError: true,
			LogValuesFunc: func(c echo.Context, v echomw.RequestLoggerValues) error {
				logger.LogAttrs(c.Request().Context(), slog.LevelInfo, "http request",
					slog.String("method", v.Method),
					slog.String("path", v.URIPath),
					slog.Int("status", v.Status),
					slog.Int64("bytes", v.ResponseSize),
					slog.Duration("duration", v.Latency),
					slog.String("client_ip", v.RemoteIP),
					slog.String("request_id", v.RequestID),
					slog.String("user_agent", v.UserAgent),
				)
				return nil
			},
		}),
		echomw.Recover(),
		echoAllowHosts(httpBenchHost),
		echomw.SecureWithConfig(echomw.SecureConfig{
			ContentTypeNosniff: "nosniff",
			XFrameOptions:      "DENY",
			ReferrerPolicy:     "same-origin",
			// XSSProtection left empty: kit does not send the obsolete X-XSS-Protection.
		}),
		echoSetHeader("Cross-Origin-Opener-Policy", "same-origin"), // Secure has no COOP
		echo.WrapMiddleware(http.NewCrossOriginProtection().Handler),
		echomw.BodyLimit("10M"),
		// kit's Compress leaves bodies under 1 KiB alone; echo can do the same.
		echomw.GzipWithConfig(echomw.GzipConfig{Level: gzipLevel, MinLength: 1024}),
	)
	e.GET("/hello", echo.WrapHandler(http.HandlerFunc(helloHandler)))
	return e
}

func echoAllowHosts(hosts ...string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if !hostAllowed(c.Request().Host, hosts) {
				return echo.NewHTTPError(http.StatusBadRequest, "host not allowed")
			}
			return next(c)
		}
	}
}

func echoSetHeader(key, value string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			c.Response().Header().Set(key, value)
			return next(c)
		}
	}
}
