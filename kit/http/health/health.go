// Package health serves liveness (/healthz) and readiness (/readyz) for Kubernetes probes.
// Readiness aggregates the checks a service registers — a database ping, a cache ping, a queue
// connection — each with its own timeout, and turns unready as soon as shutdown begins so load
// balancers stop sending traffic before the server stops accepting it.
//
//	h := health.New()
//	h.Add("database", db.Check(bdb))
//	h.Add("cache", cache.Check(c), health.Timeout(500*time.Millisecond))
//	h.Register(mux) // GET /healthz, GET /readyz
//
// Check functions are plain func(context.Context) error, so every kit module can offer one without
// depending on this package.
package health

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultTimeout bounds a check that sets none.
const DefaultTimeout = 2 * time.Second

// Paths of the endpoints Register mounts.
const (
	LivePath  = "/healthz"
	ReadyPath = "/readyz"
)

// ErrShuttingDown is the readiness state while the server drains.
var ErrShuttingDown = errors.New("shutting down")

// Health holds the readiness checks and the shutdown state. It is safe for concurrent use.
type Health struct {
	mu       sync.RWMutex
	checks   []check
	draining atomic.Bool
	logger   *slog.Logger
	verbose  bool
}

type check struct {
	name     string
	fn       func(context.Context) error
	timeout  time.Duration
	optional bool
}

// Option configures New.
type Option func(*Health)

// WithLogger sets the logger failed checks are reported to; the default is slog.Default().
func WithLogger(l *slog.Logger) Option { return func(h *Health) { h.logger = l } }

// Verbose includes each failed check's error text in the /readyz body. Off by default: error
// text can name hosts and internals, and probe endpoints are often reachable from outside.
func Verbose(on bool) Option { return func(h *Health) { h.verbose = on } }

// New returns a Health with no checks: ready until shutdown begins.
func New(opts ...Option) *Health {
	h := &Health{logger: slog.Default()}
	for _, o := range opts {
		o(h)
	}
	return h
}

// CheckOption configures one check.
type CheckOption func(*check)

// Timeout bounds the check (default 2s); a check that overruns fails with a timeout.
func Timeout(d time.Duration) CheckOption { return func(c *check) { c.timeout = d } }

// Optional reports the check in /readyz without letting its failure make the service unready
// (a degraded dependency the service can live without, such as a cache in fail-open mode).
func Optional() CheckOption { return func(c *check) { c.optional = true } }

// Add registers a readiness check. Names must be unique; Add panics on a duplicate or empty name
// or a nil function, as those are programming errors.
func (h *Health) Add(name string, fn func(context.Context) error, opts ...CheckOption) {
	if name == "" || fn == nil {
		panic("health: Add needs a name and a function")
	}
	c := check{name: name, fn: fn, timeout: DefaultTimeout}
	for _, o := range opts {
		o(&c)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, existing := range h.checks {
		if existing.name == name {
			panic(fmt.Sprintf("health: check %q added twice", name))
		}
	}
	h.checks = append(h.checks, c)
}

// Drain marks the service as shutting down: /readyz answers 503 from now on. The server calls it
// first thing on SIGTERM.
func (h *Health) Drain() { h.draining.Store(true) }

// Draining reports whether Drain was called.
func (h *Health) Draining() bool { return h.draining.Load() }

// Result is one check's outcome.
type Result struct {
	Status     string  `json:"status"` // "ok", "failed", "timeout"
	Optional   bool    `json:"optional,omitempty"`
	Error      string  `json:"error,omitempty"`
	DurationMS float64 `json:"duration_ms"`
}

// Report is the /readyz body.
type Report struct {
	Status string            `json:"status"` // "ok", "unavailable", "shutting down"
	Checks map[string]Result `json:"checks"`
}

// Check runs every check concurrently, each within its timeout, and reports whether the service
// is ready: not draining, and every non-optional check passed.
func (h *Health) Check(ctx context.Context) (Report, bool) {
	h.mu.RLock()
	checks := h.checks
	h.mu.RUnlock()
	results := make([]Result, len(checks))
	var wg sync.WaitGroup
	for i, c := range checks {
		wg.Go(func() { results[i] = h.run(ctx, c) })
	}
	wg.Wait()
	report := Report{Status: "ok", Checks: make(map[string]Result, len(checks))}
	ready := true
	for i, c := range checks {
		report.Checks[c.name] = results[i]
		if results[i].Status != "ok" && !c.optional {
			ready = false
		}
	}
	if !ready {
		report.Status = "unavailable"
	}
	if h.Draining() {
		report.Status, ready = ErrShuttingDown.Error(), false
	}
	return report, ready
}

func (h *Health) run(ctx context.Context, c check) (res Result) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	start := time.Now()
	done := make(chan error, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- fmt.Errorf("check panicked: %v", p)
			}
		}()
		done <- c.fn(ctx)
	}()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done(): // a check that ignores its context must not hold the probe
		err = ctx.Err()
	}
	res = Result{Status: "ok", Optional: c.optional, DurationMS: float64(time.Since(start).Microseconds()) / 1000}
	if err != nil {
		res.Status = "failed"
		if errors.Is(err, context.DeadlineExceeded) {
			res.Status = "timeout"
		}
		if h.verbose {
			res.Error = err.Error()
		}
		h.logger.WarnContext(ctx, "health: check failed", "check", c.name, "status", res.Status, "error", err)
	}
	return res
}

// LiveHandler answers /healthz: 200 while the process can serve HTTP at all. It runs no checks:
// a failing database must not make Kubernetes restart every replica.
func (h *Health) LiveHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, r, http.StatusOK, map[string]string{"status": "ok"})
	})
}

// ReadyHandler answers /readyz: 200 with the report when ready, 503 otherwise.
func (h *Health) ReadyHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		report, ready := h.Check(r.Context())
		status := http.StatusOK
		if !ready {
			status = http.StatusServiceUnavailable
		}
		writeJSON(w, r, status, report)
	})
}

// Register mounts GET /healthz and GET /readyz on mux.
func (h *Health) Register(mux *http.ServeMux) {
	mux.Handle("GET "+LivePath, h.LiveHandler())
	mux.Handle("GET "+ReadyPath, h.ReadyHandler())
}

func writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	body, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(append(body, '\n'))
	}
}
