package middleware

import (
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/stackkit/stackkit/kit/http/internal/reqctx"
)

// telemetryScope names the instrumentation scope of the spans and metrics.
const telemetryScope = "github.com/stackkit/stackkit/kit/http/middleware"

// TelemetryOption configures Telemetry.
type TelemetryOption func(*telemetryConfig)

type telemetryConfig struct {
	tp   trace.TracerProvider
	mp   metric.MeterProvider
	prop propagation.TextMapPropagator
}

// WithTracerProvider sets the tracer provider (default: the otel global, read per request so
// that one installed after the middleware was built is still used).
func WithTracerProvider(tp trace.TracerProvider) TelemetryOption {
	return func(c *telemetryConfig) { c.tp = tp }
}

// WithMeterProvider sets the meter provider (default: the otel global, read per request).
func WithMeterProvider(mp metric.MeterProvider) TelemetryOption {
	return func(c *telemetryConfig) { c.mp = mp }
}

// WithPropagator sets the propagator that extracts the caller's trace context (default: the
// otel global, which services set to W3C TraceContext and Baggage).
func WithPropagator(p propagation.TextMapPropagator) TelemetryOption {
	return func(c *telemetryConfig) { c.prop = p }
}

// Telemetry traces each request as an OpenTelemetry server span and records its duration in
// the http.server.request.duration histogram (seconds), following the HTTP semantic
// conventions: the span continues the caller's trace (W3C traceparent), is named "GET" and
// renamed "GET /orders/{id}" once http.ServeMux has matched the route, and carries
// http.request.method, url.path, url.scheme, http.route, http.response.status_code,
// server.address, client.address, user_agent.original and request_id; a 5xx status marks it
// as an error.
//
//	handler := middleware.Telemetry()(mux) // uses the providers the service installed with otel.Set*
//
// Place it outside the mux, and outside any middleware that answers on its own (so that those
// responses are measured too). The route comes from r.Pattern, which the mux sets on the request
// it receives: a middleware between Telemetry and the mux that replaces the request
// (r.WithContext) must copy Pattern back, as [Timeout] does.
//
// With no-op providers (the otel packages' noop, or globals that no SDK has been installed
// into) the middleware does nothing at all and allocates nothing.
func Telemetry(opts ...TelemetryOption) func(http.Handler) http.Handler {
	var c telemetryConfig
	for _, o := range opts {
		o(&c)
	}
	t := &telemetry{prop: c.prop}
	switch {
	case c.tp == nil || telemetryIsGlobalDefault(c.tp):
		t.globalTraces = true
	default:
		t.traces.Store(newTelemetryTracing(c.tp))
	}
	switch {
	case c.mp == nil || telemetryIsGlobalDefault(c.mp):
		t.globalMetrics = true
	default:
		t.metrics.Store(newTelemetryMetrics(c.mp))
	}
	return func(next http.Handler) http.Handler { return &telemetryHandler{t: t, next: next} }
}

// telemetry holds the tracer and histogram, resolved once per provider. With the otel globals
// the provider is looked up per request (an atomic load) and compared with the cached one.
type telemetry struct {
	globalTraces  bool
	globalMetrics bool
	prop          propagation.TextMapPropagator
	traces        atomic.Pointer[telemetryTracing]
	metrics       atomic.Pointer[telemetryMetrics]
}

type telemetryTracing struct {
	tp         trace.TracerProvider
	comparable bool
	on         bool
	tracer     trace.Tracer
}

type telemetryMetrics struct {
	mp         metric.MeterProvider
	comparable bool
	on         bool
	duration   metric.Float64Histogram
}

func newTelemetryTracing(tp trace.TracerProvider) *telemetryTracing {
	tt := &telemetryTracing{tp: tp, comparable: reflect.TypeOf(tp).Comparable()}
	switch tp.(type) {
	case tracenoop.TracerProvider, *tracenoop.TracerProvider:
		return tt
	}
	if telemetryIsGlobalDefault(tp) {
		return tt
	}
	tt.on = true
	tt.tracer = tp.Tracer(telemetryScope)
	return tt
}

// telemetryBuckets are the boundaries the HTTP semantic conventions recommend for
// http.server.request.duration.
var telemetryBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}

func newTelemetryMetrics(mp metric.MeterProvider) *telemetryMetrics {
	tm := &telemetryMetrics{mp: mp, comparable: reflect.TypeOf(mp).Comparable()}
	switch mp.(type) {
	case metricnoop.MeterProvider, *metricnoop.MeterProvider:
		return tm
	}
	if telemetryIsGlobalDefault(mp) {
		return tm
	}
	h, err := mp.Meter(telemetryScope).Float64Histogram("http.server.request.duration",
		metric.WithUnit("s"),
		metric.WithDescription("Duration of HTTP server requests."),
		metric.WithExplicitBucketBoundaries(telemetryBuckets...))
	if err != nil {
		otel.Handle(err)
		return tm
	}
	tm.on, tm.duration = true, h
	return tm
}

// telemetryIsGlobalDefault reports whether p is the otel global provider that no SDK has been
// installed into yet. Once one is, otel.Get*Provider returns the installed provider instead, so
// a provider of the global package's own type is always the inert default.
func telemetryIsGlobalDefault(p any) bool {
	t := reflect.TypeOf(p)
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.PkgPath() == "go.opentelemetry.io/otel/internal/global"
}

func (t *telemetry) tracing() *telemetryTracing {
	if !t.globalTraces {
		return t.traces.Load()
	}
	tp := otel.GetTracerProvider()
	if c := t.traces.Load(); c != nil && c.comparable && c.tp == tp {
		return c
	}
	c := newTelemetryTracing(tp)
	t.traces.Store(c)
	return c
}

func (t *telemetry) metering() *telemetryMetrics {
	if !t.globalMetrics {
		return t.metrics.Load()
	}
	mp := otel.GetMeterProvider()
	if c := t.metrics.Load(); c != nil && c.comparable && c.mp == mp {
		return c
	}
	c := newTelemetryMetrics(mp)
	t.metrics.Store(c)
	return c
}

func (t *telemetry) propagator() propagation.TextMapPropagator {
	if t.prop != nil {
		return t.prop
	}
	return otel.GetTextMapPropagator()
}

type telemetryHandler struct {
	t    *telemetry
	next http.Handler
}

// telemetryRequest is what the deferred end of the span needs; it lives on ServeHTTP's stack.
type telemetryRequest struct {
	r       *http.Request // the request passed on: the mux sets its Pattern
	s       *reqctx.State
	span    trace.Span
	metrics *telemetryMetrics
	start   time.Time
	done    bool
}

func (h *telemetryHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	tr, mt := h.t.tracing(), h.t.metering()
	if !tr.on && !mt.on {
		h.next.ServeHTTP(w, r)
		return
	}
	req := telemetryRequest{start: time.Now(), metrics: mt}
	req.s, w, req.r = reqctx.Ensure(w, r)
	if tr.on {
		r := req.r
		ctx := h.t.propagator().Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		method, known := telemetryMethod(r.Method)
		attrs := make([]attribute.KeyValue, 0, 11)
		attrs = append(attrs,
			attribute.String("http.request.method", method),
			attribute.String("url.path", r.URL.Path),
			attribute.String("url.scheme", telemetryScheme(r)),
			attribute.String("network.protocol.version", telemetryProtocol(r)),
			attribute.String("client.address", ClientIP(r)),
		)
		if !known {
			attrs = append(attrs, attribute.String("http.request.method_original", r.Method))
		}
		if host, port := telemetryHostPort(r.Host); host != "" {
			attrs = append(attrs, attribute.String("server.address", host))
			if port > 0 {
				attrs = append(attrs, attribute.Int("server.port", port))
			}
		}
		if ua := r.UserAgent(); ua != "" {
			attrs = append(attrs, attribute.String("user_agent.original", ua))
		}
		if req.s.RequestID != "" {
			attrs = append(attrs, attribute.String("request_id", req.s.RequestID))
		}
		name := method
		if !known {
			name = "HTTP"
		}
		ctx, req.span = tr.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(attrs...))
		req.r = r.WithContext(ctx)
	}
	defer h.finish(&req)
	h.next.ServeHTTP(w, req.r)
	req.done = true
}

func (h *telemetryHandler) finish(req *telemetryRequest) {
	status := req.s.Writer.Status()
	if status == 0 && req.done {
		status = http.StatusOK
	}
	failed := status >= 500 || !req.done
	route := telemetryRoute(req.r.Pattern)
	method, _ := telemetryMethod(req.r.Method)

	if span := req.span; span != nil {
		if span.IsRecording() {
			if route != "" {
				if method == "_OTHER" {
					span.SetName("HTTP " + route)
				} else {
					span.SetName(method + " " + route)
				}
				span.SetAttributes(attribute.String("http.route", route))
			}
			if status != 0 {
				span.SetAttributes(attribute.Int("http.response.status_code", status))
			}
			switch {
			case !req.done:
				span.SetAttributes(attribute.String("error.type", "panic"))
				span.SetStatus(codes.Error, "handler panicked")
			case failed:
				span.SetAttributes(attribute.String("error.type", strconv.Itoa(status)))
				span.SetStatus(codes.Error, "")
			}
		}
		span.End()
	}

	if req.metrics.on {
		attrs := make([]attribute.KeyValue, 0, 5)
		attrs = append(attrs,
			attribute.String("http.request.method", method),
			attribute.String("url.scheme", telemetryScheme(req.r)),
		)
		if status != 0 {
			attrs = append(attrs, attribute.Int("http.response.status_code", status))
		}
		if route != "" {
			attrs = append(attrs, attribute.String("http.route", route))
		}
		if failed {
			errType := "panic"
			if req.done {
				errType = strconv.Itoa(status)
			}
			attrs = append(attrs, attribute.String("error.type", errType))
		}
		req.metrics.duration.Record(req.r.Context(), time.Since(req.start).Seconds(),
			metric.WithAttributeSet(attribute.NewSet(attrs...)))
	}
}

// telemetryMethod returns the method as the semantic conventions want it: known methods as
// they are, anything else as "_OTHER" (an unbounded set would explode metric cardinality).
func telemetryMethod(m string) (string, bool) {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodDelete,
		http.MethodConnect, http.MethodOptions, http.MethodTrace, http.MethodPatch, "QUERY":
		return m, true
	}
	return "_OTHER", false
}

// telemetryRoute returns the path template of a ServeMux pattern: "GET example.com/orders/{id}"
// becomes "/orders/{id}".
func telemetryRoute(pattern string) string {
	if pattern == "" {
		return ""
	}
	if i := strings.IndexAny(pattern, " \t"); i >= 0 {
		pattern = strings.TrimLeft(pattern[i:], " \t")
	}
	if i := strings.IndexByte(pattern, '/'); i > 0 {
		pattern = pattern[i:]
	}
	return pattern
}

func telemetryScheme(r *http.Request) string {
	if IsSecure(r) {
		return "https"
	}
	return "http"
}

func telemetryProtocol(r *http.Request) string {
	switch {
	case r.ProtoMajor == 1 && r.ProtoMinor == 1:
		return "1.1"
	case r.ProtoMajor == 2:
		return "2"
	case r.ProtoMajor == 3:
		return "3"
	case r.ProtoMajor == 1 && r.ProtoMinor == 0:
		return "1.0"
	}
	return strconv.Itoa(r.ProtoMajor) + "." + strconv.Itoa(r.ProtoMinor)
}

// telemetryHostPort splits a Host header value; port is 0 when absent or not a number.
func telemetryHostPort(hostport string) (string, int) {
	host, port := hostport, ""
	if strings.HasPrefix(hostport, "[") {
		if end := strings.IndexByte(hostport, ']'); end > 0 {
			host, port = hostport[1:end], strings.TrimPrefix(hostport[end+1:], ":")
		}
	} else if i := strings.LastIndexByte(hostport, ':'); i >= 0 && strings.IndexByte(hostport[:i], ':') < 0 {
		host, port = hostport[:i], hostport[i+1:]
	}
	if port == "" {
		return host, 0
	}
	n, err := strconv.Atoi(port)
	if err != nil || n <= 0 || n > 65535 {
		n = 0
	}
	return host, n
}
