// Command orders is a small service on kit/http: the default middleware stack, health endpoints
// with a readiness check, JSON input with DecodeJSON, errors as problem details, and graceful
// shutdown with a background worker.
//
//	go run ./kit/http/examples/orders                 # listens on :8080
//	curl -s localhost:8080/orders/42
//	curl -s -XPOST -H 'Content-Type: application/json' -d '{"item":"tea","count":2}' localhost:8080/orders
//	curl -s localhost:8080/readyz
//
// Environment: KIT_HTTP_ADDR (default :8080), KIT_ALLOWED_HOSTS (comma-separated, default any),
// KIT_HTTP_DRAIN_DELAY (default 5s) and KIT_HTTP_SHUTDOWN_TIMEOUT (default 20s), as Go durations.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	kithttp "github.com/stackkit/stackkit/kit/http"
	"github.com/stackkit/stackkit/kit/http/health"
	"github.com/stackkit/stackkit/kit/http/middleware"
	"github.com/stackkit/stackkit/kit/http/problem"
)

type order struct {
	ID    int64  `json:"id"`
	Item  string `json:"item"`
	Count int    `json:"count"`
}

// app holds the handlers' state; a real service would hold its *bun.DB here.
type app struct {
	nextID atomic.Int64
	logger *slog.Logger
}

func (a *app) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /orders/{id}", a.getOrder)
	mux.HandleFunc("POST /orders", a.createOrder)
	return mux
}

func (a *app) getOrder(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		problem.Error(w, r, http.StatusBadRequest, "order id must be a positive integer")
		return
	}
	writeJSON(w, http.StatusOK, order{ID: id, Item: "tea", Count: 1})
}

func (a *app) createOrder(w http.ResponseWriter, r *http.Request) {
	var in order
	if err := kithttp.DecodeJSON(w, r, &in, kithttp.JSONLimit(64<<10)); err != nil {
		kithttp.WriteError(w, r, err)
		return
	}
	if in.Item == "" || in.Count <= 0 {
		problem.Write(w, r, problem.Details{Status: http.StatusUnprocessableEntity, Detail: "item and a positive count are required"})
		return
	}
	in.ID = a.nextID.Add(1)
	// The request's context carries its request ID: LogHandler adds it to this record.
	a.logger.InfoContext(r.Context(), "order created", "order", in.ID)
	writeJSON(w, http.StatusCreated, in)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// envDuration reads a duration such as "5s" from the environment variable name, or def when it
// is unset.
func envDuration(name string, def time.Duration) (time.Duration, error) {
	v := strings.TrimSpace(os.Getenv(name))
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%s: %q: want a duration such as 5s", name, v)
	}
	return d, nil
}

// newHandler builds the whole handler: routes, health endpoints and the default stack.
func newHandler(logger *slog.Logger, h *health.Health, allowedHosts []string) (http.Handler, error) {
	a := &app{logger: logger}
	mux := a.routes()
	h.Register(mux)
	stack, err := kithttp.DefaultStack(kithttp.StackConfig{Logger: logger, AllowedHosts: allowedHosts, Health: h})
	if err != nil {
		return nil, err
	}
	return stack(mux), nil
}

func main() {
	// Configured from the environment only: an argument (--help, a mistyped flag) must not start a
	// server listening on every interface.
	if len(os.Args) > 1 {
		fmt.Fprintf(os.Stderr, "usage: orders (no arguments)\n\n"+
			"Environment: KIT_HTTP_ADDR (default :8080, every interface), KIT_ALLOWED_HOSTS,\n"+
			"KIT_HTTP_DRAIN_DELAY (default 5s), KIT_HTTP_SHUTDOWN_TIMEOUT (default 20s).\n"+
			"Routes: GET /orders/{id}, POST /orders {\"item\": \"tea\", \"count\": 2}, /healthz, /readyz.\n")
		if a := os.Args[1]; a == "-h" || a == "-help" || a == "--help" {
			os.Exit(0)
		}
		os.Exit(2)
	}
	logger := slog.New(middleware.LogHandler(slog.NewJSONHandler(os.Stderr, nil)))
	slog.SetDefault(logger)

	h := health.New(health.WithLogger(logger))
	// A real service registers its backends' checks, e.g. h.Add("database", db.Check(bdb)).
	h.Add("self", func(context.Context) error { return nil })

	var hosts []string
	if v := os.Getenv("KIT_ALLOWED_HOSTS"); v != "" {
		hosts = strings.Split(v, ",")
	}
	handler, err := newHandler(logger, h, hosts)
	if err != nil {
		logger.Error("configuration", "error", err)
		os.Exit(2)
	}
	addr := os.Getenv("KIT_HTTP_ADDR")
	if addr == "" {
		addr = kithttp.DefaultAddr
	}
	drain, err := envDuration("KIT_HTTP_DRAIN_DELAY", kithttp.DefaultDrainDelay)
	if err != nil {
		logger.Error("configuration", "error", err.Error())
		os.Exit(2)
	}
	shutdown, err := envDuration("KIT_HTTP_SHUTDOWN_TIMEOUT", kithttp.DefaultShutdownTimeout)
	if err != nil {
		logger.Error("configuration", "error", err.Error())
		os.Exit(2)
	}
	srv := kithttp.NewServer(handler, kithttp.WithAddr(addr), kithttp.WithHealth(h), kithttp.WithLogger(logger),
		kithttp.WithDrainDelay(drain), kithttp.WithShutdownTimeout(shutdown),
		// A background worker shares the lifecycle: cancelled after in-flight requests finish.
		kithttp.WithWorker("ticker", func(ctx context.Context) error {
			t := time.NewTicker(time.Minute)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-t.C:
					logger.InfoContext(ctx, "still here")
				}
			}
		}))
	if err := srv.Run(context.Background()); err != nil {
		logger.Error("server stopped", "error", err)
		os.Exit(1)
	}
}
