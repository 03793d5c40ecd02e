package middleware_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/stackkit/stackkit/kit/http/middleware"
)

const (
	testTraceID  = "4bf92f3577b34da6a3ce929d0e0e4736"
	testParentID = "00f067aa0ba902b7"
)

type telemetryFixture struct {
	spans   *tracetest.SpanRecorder
	reader  *sdkmetric.ManualReader
	handler http.Handler
	inSpan  trace.SpanContext // the span context the last handler saw
}

func newTelemetryFixture(t testing.TB) *telemetryFixture {
	f := &telemetryFixture{spans: tracetest.NewSpanRecorder(), reader: sdkmetric.NewManualReader()}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(f.spans))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(f.reader))
	t.Cleanup(func() {
		_ = tp.Shutdown(context.Background())
		_ = mp.Shutdown(context.Background())
	})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /orders/{id}", func(w http.ResponseWriter, r *http.Request) {
		f.inSpan = trace.SpanContextFromContext(r.Context())
		_, _ = io.WriteString(w, "order "+r.PathValue("id"))
	})
	mux.HandleFunc("POST example.com/fail", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
	})
	mux.Handle("GET /slow", middleware.Timeout(time.Minute)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})))
	telemetry := middleware.Telemetry(middleware.WithTracerProvider(tp), middleware.WithMeterProvider(mp),
		middleware.WithPropagator(propagation.TraceContext{}))
	f.handler = middleware.RequestID()(telemetry(mux))
	return f
}

func spanAttrs(s sdktrace.ReadOnlySpan) map[attribute.Key]attribute.Value {
	m := make(map[attribute.Key]attribute.Value)
	for _, kv := range s.Attributes() {
		m[kv.Key] = kv.Value
	}
	return m
}

func TestTelemetrySpan(t *testing.T) {
	tests := []struct {
		name       string
		method     string
		target     string
		host       string
		traceparnt bool
		spanName   string
		status     int
		route      string
		code       codes.Code
	}{
		{name: "route", method: "GET", target: "/orders/42", host: "shop.example:8443", traceparnt: true,
			spanName: "GET /orders/{id}", status: 200, route: "/orders/{id}", code: codes.Unset},
		{name: "root span", method: "GET", target: "/orders/42", host: "shop.example",
			spanName: "GET /orders/{id}", status: 200, route: "/orders/{id}", code: codes.Unset},
		{name: "host pattern and 5xx", method: "POST", target: "/fail", host: "example.com",
			spanName: "POST /fail", status: 502, route: "/fail", code: codes.Error},
		{name: "no route", method: "GET", target: "/nowhere", host: "example.com",
			spanName: "GET", status: 404, code: codes.Unset},
		{name: "route inside Timeout", method: "GET", target: "/slow", host: "example.com",
			spanName: "GET /slow", status: 200, route: "/slow", code: codes.Unset},
		{name: "unknown method", method: "BREW", target: "/orders/1", host: "example.com",
			spanName: "HTTP", status: 405, code: codes.Unset},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newTelemetryFixture(t)
			r := httptest.NewRequest(tt.method, tt.target, nil)
			r.Host = tt.host
			r.RemoteAddr = "198.51.100.9:5555"
			r.Header.Set("User-Agent", "probe/2")
			r.Header.Set("X-Request-Id", "req-5")
			if tt.traceparnt {
				r.Header.Set("Traceparent", "00-"+testTraceID+"-"+testParentID+"-01")
			}
			w := httptest.NewRecorder()
			f.handler.ServeHTTP(w, r)
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d", w.Code, tt.status)
			}

			ended := f.spans.Ended()
			if len(ended) != 1 {
				t.Fatalf("%d spans, want 1", len(ended))
			}
			s := ended[0]
			if s.Name() != tt.spanName || s.SpanKind() != trace.SpanKindServer || s.Status().Code != tt.code {
				t.Errorf("span %q kind %v status %v", s.Name(), s.SpanKind(), s.Status())
			}
			if tt.traceparnt {
				if s.SpanContext().TraceID().String() != testTraceID || s.Parent().SpanID().String() != testParentID ||
					!s.Parent().IsRemote() {
					t.Errorf("trace %s parent %s", s.SpanContext().TraceID(), s.Parent().SpanID())
				}
			} else if s.Parent().IsValid() {
				t.Errorf("root span has parent %v", s.Parent())
			}
			if tt.route == "/orders/{id}" && f.inSpan.SpanID() != s.SpanContext().SpanID() {
				t.Errorf("handler's context carries span %s, want %s", f.inSpan.SpanID(), s.SpanContext().SpanID())
			}

			a := spanAttrs(s)
			want := map[attribute.Key]any{
				"http.request.method":       tt.method,
				"url.path":                  tt.target,
				"url.scheme":                "http",
				"http.response.status_code": int64(tt.status),
				"client.address":            "198.51.100.9",
				"user_agent.original":       "probe/2",
				"request_id":                "req-5",
				"network.protocol.version":  "1.1",
			}
			if tt.method == "BREW" {
				want["http.request.method"] = "_OTHER"
				want["http.request.method_original"] = "BREW"
			}
			if tt.route != "" {
				want["http.route"] = tt.route
			}
			if tt.host == "shop.example:8443" {
				want["server.address"], want["server.port"] = "shop.example", int64(8443)
			} else {
				want["server.address"] = tt.host
			}
			if tt.status >= 500 {
				want["error.type"] = "502"
			}
			for k, v := range want {
				if got, ok := a[k]; !ok || got.AsInterface() != v {
					t.Errorf("%s = %v, want %v", k, got.AsInterface(), v)
				}
			}
			if _, has := a["http.route"]; has && tt.route == "" {
				t.Errorf("http.route %v without a route", a["http.route"])
			}
		})
	}
}

func TestTelemetryMetrics(t *testing.T) {
	f := newTelemetryFixture(t)
	for _, target := range []string{"/orders/1", "/orders/2"} {
		f.handler.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", target, nil))
	}
	r := httptest.NewRequest("POST", "/fail", nil)
	r.Host = "example.com"
	f.handler.ServeHTTP(httptest.NewRecorder(), r)

	var rm metricdata.ResourceMetrics
	if err := f.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	var hist *metricdata.Histogram[float64]
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name == "http.server.request.duration" {
				if m.Unit != "s" {
					t.Errorf("unit %q", m.Unit)
				}
				h := m.Data.(metricdata.Histogram[float64])
				hist = &h
			}
		}
	}
	if hist == nil {
		t.Fatalf("no http.server.request.duration in %+v", rm)
	}
	counts := map[string]uint64{}
	for _, dp := range hist.DataPoints {
		method, _ := dp.Attributes.Value("http.request.method")
		status, _ := dp.Attributes.Value("http.response.status_code")
		route, _ := dp.Attributes.Value("http.route")
		key := method.AsString() + " " + route.AsString() + " " + status.String()
		counts[key] += dp.Count
		if dp.Sum <= 0 {
			t.Errorf("%s: sum %v", key, dp.Sum)
		}
	}
	want := map[string]uint64{"GET /orders/{id} 200": 2, "POST /fail 502": 1}
	for k, v := range want {
		if counts[k] != v {
			t.Errorf("%s: count %d, want %d (all: %v)", k, counts[k], v, counts)
		}
	}
}

func TestTelemetryNoopAllocs(t *testing.T) {
	noop := middleware.Telemetry(middleware.WithTracerProvider(tracenoop.NewTracerProvider()),
		middleware.WithMeterProvider(metricnoop.NewMeterProvider()))(helloHandler)
	w := newAllocFreeWriter()
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Traceparent", "00-"+testTraceID+"-"+testParentID+"-01")
	if allocs := testing.AllocsPerRun(100, func() { noop.ServeHTTP(w, r) }); allocs != 0 {
		t.Errorf("no-op providers: %v allocations per request, want 0", allocs)
	}
}

// TestTelemetryGlobals checks that the middleware follows the otel globals: inert while no SDK
// is installed, tracing once one is, even though the middleware was built before.
func TestTelemetryGlobals(t *testing.T) {
	var inSpan trace.SpanContext
	h := middleware.Telemetry()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inSpan = trace.SpanContextFromContext(r.Context())
	}))
	w := newAllocFreeWriter()
	r := httptest.NewRequest("GET", "/", nil)
	// Inert globals (or, with -count > 1, the no-op provider this test leaves behind).
	if allocs := testing.AllocsPerRun(100, func() { h.ServeHTTP(w, r) }); allocs != 0 {
		t.Errorf("default globals: %v allocations per request, want 0", allocs)
	}

	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.TraceContext{})
	t.Cleanup(func() {
		otel.SetTracerProvider(tracenoop.NewTracerProvider())
		otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator())
		_ = tp.Shutdown(context.Background())
	})
	r.Header.Set("Traceparent", "00-"+testTraceID+"-"+testParentID+"-01")
	h.ServeHTTP(httptest.NewRecorder(), r)
	if n := len(spans.Ended()); n != 1 || inSpan.TraceID().String() != testTraceID {
		t.Errorf("%d spans after installing an SDK, handler saw trace %s", n, inSpan.TraceID())
	}

	otel.SetTracerProvider(tracenoop.NewTracerProvider())
	if allocs := testing.AllocsPerRun(100, func() { h.ServeHTTP(w, r) }); allocs != 0 {
		t.Errorf("global noop provider: %v allocations per request, want 0", allocs)
	}
}

func BenchmarkTelemetry(b *testing.B) {
	b.Run("noop", func(b *testing.B) {
		h := middleware.Telemetry(middleware.WithTracerProvider(tracenoop.NewTracerProvider()),
			middleware.WithMeterProvider(metricnoop.NewMeterProvider()))(helloHandler)
		benchServe(b, h, httptest.NewRequest("GET", "/", nil))
	})
	b.Run("sdk", func(b *testing.B) {
		f := newTelemetryFixture(b)
		r := httptest.NewRequest("GET", "/orders/42", nil)
		r.Header.Set("Traceparent", "00-"+testTraceID+"-"+testParentID+"-01")
		benchServe(b, f.handler, r)
	})
}
