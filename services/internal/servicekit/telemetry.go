package servicekit

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// Telemetry is the OpenTelemetry SDK as a service configures it: metrics always, read by the
// Prometheus exporter at /metrics and pushed over OTLP when an OTLP endpoint is configured;
// traces exported over OTLP when an endpoint is configured, otherwise not recorded. The libraries
// only use the OTel API and reach the SDK through the globals [SetupTelemetry] sets.
type Telemetry struct {
	// Registry is the service's own Prometheus registry (Go runtime and process collectors, the
	// OTel exporter); a service may register collectors of its own.
	Registry *prometheus.Registry
	// Metrics serves Registry in the Prometheus text exposition: mount it at GET /metrics.
	Metrics  http.Handler
	shutdown func(context.Context) error
}

// Shutdown flushes and stops the exporters. Call it once, at exit, with a bounded context.
func (t *Telemetry) Shutdown(ctx context.Context) error { return t.shutdown(ctx) }

// SetupTelemetry installs the SDK as the global meter and tracer providers, with W3C trace
// context and baggage as the propagator (so a message's trace continues from its publisher).
// service is the default service.name (OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES override
// it); getenv reads the OTEL_* variables. OTEL_SDK_DISABLED=true leaves the globals as no-ops:
// /metrics then shows the Go runtime only. A bad OTEL_* setting is an error wrapping [ErrConfig].
func SetupTelemetry(ctx context.Context, service string, getenv func(string) string) (*Telemetry, error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	t := &Telemetry{
		Registry: reg,
		Metrics:  promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}),
		shutdown: func(context.Context) error { return nil },
	}
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	if strings.EqualFold(getenv("OTEL_SDK_DISABLED"), "true") {
		return t, nil
	}
	otlpMetrics, err := otlpProtocol(getenv, service, "metrics")
	if err != nil {
		return nil, err
	}
	otlpTraces, err := otlpProtocol(getenv, service, "traces")
	if err != nil {
		return nil, err
	}

	// service.name first, so OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES override it.
	res, err := resource.New(ctx,
		resource.WithAttributes(attribute.String("service.name", service)),
		resource.WithTelemetrySDK(), resource.WithHost(), resource.WithFromEnv())
	if err != nil && !errors.Is(err, resource.ErrPartialResource) {
		return nil, fmt.Errorf("%w: OTel resource (OTEL_RESOURCE_ATTRIBUTES): %w", ErrConfig, err)
	}

	prom, err := otelprom.New(otelprom.WithRegisterer(reg))
	if err != nil {
		return nil, fmt.Errorf("prometheus exporter: %w", err)
	}
	mopts := []sdkmetric.Option{sdkmetric.WithResource(res), sdkmetric.WithReader(prom)}
	if otlpMetrics != "" {
		// The exporters read their endpoint, headers, TLS and timeout from OTEL_EXPORTER_OTLP_*.
		var exp sdkmetric.Exporter
		if otlpMetrics == "grpc" {
			exp, err = otlpmetricgrpc.New(ctx)
		} else {
			exp, err = otlpmetrichttp.New(ctx)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: OTLP metrics exporter: %w", ErrConfig, err)
		}
		mopts = append(mopts, sdkmetric.WithReader(sdkmetric.NewPeriodicReader(exp)))
	}
	mp := sdkmetric.NewMeterProvider(mopts...)
	otel.SetMeterProvider(mp)
	shutdowns := []func(context.Context) error{mp.Shutdown}

	if otlpTraces != "" {
		var exp sdktrace.SpanExporter
		if otlpTraces == "grpc" {
			exp, err = otlptracegrpc.New(ctx)
		} else {
			exp, err = otlptracehttp.New(ctx)
		}
		if err != nil {
			_ = mp.Shutdown(ctx)
			return nil, fmt.Errorf("%w: OTLP trace exporter: %w", ErrConfig, err)
		}
		// The sampler comes from OTEL_TRACES_SAMPLER (parent-based always-on by default).
		tp := sdktrace.NewTracerProvider(sdktrace.WithResource(res), sdktrace.WithBatcher(exp))
		otel.SetTracerProvider(tp)
		shutdowns = append(shutdowns, tp.Shutdown)
	}
	t.shutdown = func(ctx context.Context) error {
		var errs []error
		for _, f := range shutdowns {
			errs = append(errs, f(ctx))
		}
		return errors.Join(errs...)
	}
	return t, nil
}

// otlpProtocol reports whether signal ("traces" or "metrics") goes to an OTLP endpoint: an
// endpoint is set (OTEL_EXPORTER_OTLP_ENDPOINT or the signal's own) and OTEL_<SIGNAL>_EXPORTER
// does not say none. It returns the protocol: "http/protobuf" (the default) or "grpc", from
// OTEL_EXPORTER_OTLP_<SIGNAL>_PROTOCOL or OTEL_EXPORTER_OTLP_PROTOCOL; "" when not exported.
func otlpProtocol(getenv func(string) string, service, signal string) (string, error) {
	up := strings.ToUpper(signal)
	if getenv("OTEL_EXPORTER_OTLP_ENDPOINT") == "" && getenv("OTEL_EXPORTER_OTLP_"+up+"_ENDPOINT") == "" {
		return "", nil
	}
	switch exp := getenv("OTEL_" + up + "_EXPORTER"); exp {
	case "", "otlp":
	case "none":
		return "", nil
	default:
		return "", fmt.Errorf("%w: OTEL_%s_EXPORTER=%q: %s exports otlp or none (metrics are also at /metrics)", ErrConfig, up, exp, service)
	}
	proto := getenv("OTEL_EXPORTER_OTLP_" + up + "_PROTOCOL")
	if proto == "" {
		proto = getenv("OTEL_EXPORTER_OTLP_PROTOCOL")
	}
	switch proto {
	case "", "http/protobuf":
		return "http/protobuf", nil
	case "grpc":
		return "grpc", nil
	}
	return "", fmt.Errorf("%w: OTLP protocol %q for %s: want http/protobuf or grpc", ErrConfig, proto, signal)
}
