package http

import (
	"fmt"
	"log/slog"
	"net/http"

	"github.com/stackkit/stackkit/kit/http/health"
	"github.com/stackkit/stackkit/kit/http/middleware"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// DefaultBodyLimit is the request body limit of the default stack.
const DefaultBodyLimit = 10 << 20

// StackConfig configures [DefaultStack]. The zero value is a working stack for a service behind
// no proxy, accepting any Host.
type StackConfig struct {
	// Logger receives access logs and panics; default slog.Default(). Wrap its handler with
	// middleware.LogHandler so every record logged with a request's context has its request ID.
	Logger *slog.Logger
	// AllowedHosts are the Host values served, as Django's ALLOWED_HOSTS: "api.example.com",
	// ".example.com" (the domain and its subdomains), "*". Empty accepts any Host — set it in
	// production, where a forged Host poisons caches and password-reset links.
	AllowedHosts []string
	// TrustedProxies are the CIDRs or IPs of the proxies in front (load balancer, ingress) whose
	// X-Forwarded-For/-Proto and Forwarded headers are believed. Empty believes none.
	TrustedProxies []string
	// HTTPSRedirect sends plain-HTTP requests to HTTPS (health endpoints exempt).
	HTTPSRedirect bool
	// Security configures the security headers (HSTS, CSP, ...).
	Security []middleware.SecurityOption
	// TrustedOrigins may make cross-origin state-changing requests (e.g. "https://admin.example.com").
	TrustedOrigins []string
	// BodyLimit bounds request bodies; 0 means DefaultBodyLimit, -1 no limit.
	BodyLimit int64
	// DisableCompression turns gzip off (when a proxy in front compresses).
	DisableCompression bool
	// TracerProvider and MeterProvider default to the OpenTelemetry globals.
	TracerProvider trace.TracerProvider
	MeterProvider  metric.MeterProvider
	// Health's endpoints (/healthz, /readyz) are exempt from the host check, the HTTPS redirect
	// and the access log, so kubelet probes by pod IP over plain HTTP work and don't flood logs.
	Health *health.Health
}

// DefaultStack returns the middleware a service wants around its handler, outermost first:
//
//	TrustedProxies (if configured)  client IP and scheme, for everything below
//	RequestID                       accept or generate, echo in X-Request-Id
//	Telemetry                       server span and duration metric (OpenTelemetry API)
//	AccessLog                       one slog record per request, health endpoints skipped
//	Recover                         a panic becomes a 500 problem; the server keeps serving
//	AllowedHosts (if configured)    a forged Host gets 400
//	HTTPSRedirect (if configured)
//	SecurityHeaders                 nosniff, Referrer-Policy, COOP, X-Frame-Options, HSTS on HTTPS
//	CrossOriginProtection           cross-site POST/PUT/PATCH/DELETE get 403
//	BodyLimit                       413 beyond 10 MiB
//	Compress                        gzip from 1 KiB, with Vary
//
// Each piece is in kit/http/middleware and usable alone; CORS, ConditionalGET (ETags) and
// per-route Timeout are there too, for the routes that need them.
func DefaultStack(cfg StackConfig) (func(http.Handler) http.Handler, error) {
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	exempt := []string{health.LivePath, health.ReadyPath}
	var layers []func(http.Handler) http.Handler
	if len(cfg.TrustedProxies) > 0 {
		proxies, err := middleware.TrustedProxies(cfg.TrustedProxies...)
		if err != nil {
			return nil, fmt.Errorf("http: trusted proxies: %w", err)
		}
		layers = append(layers, proxies)
	}
	var tel []middleware.TelemetryOption
	if cfg.TracerProvider != nil {
		tel = append(tel, middleware.WithTracerProvider(cfg.TracerProvider))
	}
	if cfg.MeterProvider != nil {
		tel = append(tel, middleware.WithMeterProvider(cfg.MeterProvider))
	}
	layers = append(layers,
		middleware.RequestID(),
		middleware.Telemetry(tel...),
		middleware.AccessLog(logger, middleware.SkipPaths(exempt...)),
		middleware.Recover(logger),
	)
	if len(cfg.AllowedHosts) > 0 {
		hosts, err := middleware.AllowedHosts(cfg.AllowedHosts, middleware.ExemptPaths(exempt...))
		if err != nil {
			return nil, fmt.Errorf("http: allowed hosts: %w", err)
		}
		layers = append(layers, hosts)
	} else {
		logger.Warn("http: no allowed hosts configured; any Host header is accepted")
	}
	if cfg.HTTPSRedirect {
		layers = append(layers, middleware.HTTPSRedirect(middleware.RedirectExemptPaths(exempt...)))
	}
	layers = append(layers, middleware.SecurityHeaders(cfg.Security...))
	cop, err := middleware.CrossOriginProtection(middleware.TrustedOrigins(cfg.TrustedOrigins...))
	if err != nil {
		return nil, fmt.Errorf("http: cross-origin protection: %w", err)
	}
	layers = append(layers, cop)
	switch {
	case cfg.BodyLimit == 0:
		layers = append(layers, middleware.BodyLimit(DefaultBodyLimit))
	case cfg.BodyLimit > 0:
		layers = append(layers, middleware.BodyLimit(cfg.BodyLimit))
	}
	if !cfg.DisableCompression {
		layers = append(layers, middleware.Compress())
	}
	return Chain(layers...), nil
}

// Chain composes middleware so that the first is outermost: Chain(a, b)(h) is a(b(h)).
func Chain(layers ...func(http.Handler) http.Handler) func(http.Handler) http.Handler {
	return func(h http.Handler) http.Handler {
		for i := len(layers) - 1; i >= 0; i-- {
			h = layers[i](h)
		}
		return h
	}
}
