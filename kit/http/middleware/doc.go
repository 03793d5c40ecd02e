// Package middleware is kit/http's middleware, each a plain func(http.Handler) http.Handler usable
// alone or in kithttp.DefaultStack: RequestID, AccessLog (and LogHandler for request-scoped log
// records), Recover, Telemetry (OpenTelemetry API), TrustedProxies, SecurityHeaders and
// HTTPSRedirect, AllowedHosts, CrossOriginProtection, CORS, BodyLimit, Timeout, Compress and
// ConditionalGET. Errors are written as RFC 9457 problem details (kit/http/problem).
//
//	h := middleware.RequestID()(middleware.Recover(logger)(mux))
//	mux.Handle("GET /catalog", middleware.ConditionalGET()(catalog))
//
// The pieces share one per-request record (request ID, client IP and scheme, CSP nonce, and a
// status-recording ResponseWriter), allocated by the outermost piece that needs it, so a stack of
// them costs a few allocations per request rather than a context value and a writer per layer.
package middleware
