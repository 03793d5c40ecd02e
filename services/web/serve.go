package web

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"

	"github.com/spf13/cobra"
	"github.com/stackkit/stackkit/kit/db"
	"github.com/stackkit/stackkit/kit/db/migrate"
	kithttp "github.com/stackkit/stackkit/kit/http"
	"github.com/stackkit/stackkit/kit/http/health"
	"github.com/stackkit/stackkit/kit/registry"
	"github.com/stackkit/stackkit/services/internal/servicekit"
)

// serveCommand is `web serve`: the service, configured from the environment.
func serveCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "serve",
		Short: "Serve the support desk on KIT_HTTP_ADDR (see services/web/README.md for the variables)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := ConfigFromEnv(os.Environ())
			if err != nil {
				return err
			}
			logger := servicekit.NewLogger(cmd.ErrOrStderr(), cfg.LogLevel)
			return Run(cmd.Context(), cfg, logger, os.Getenv)
		},
	}
}

// Run serves until ctx is done, then drains: /readyz answers 503 for KIT_HTTP_DRAIN_DELAY while
// requests are still served, then the server closes, giving requests in flight
// KIT_HTTP_SHUTDOWN_TIMEOUT. getenv reads the OTEL_* variables.
func Run(ctx context.Context, cfg Config, logger *slog.Logger, getenv func(string) string) error {
	return run(ctx, cfg, logger, getenv, nil)
}

// run is Run on ln when it is not nil (tests listen on a free port), else on cfg.HTTPAddr.
func run(ctx context.Context, cfg Config, logger *slog.Logger, getenv func(string) string, ln net.Listener) error {
	tel, err := servicekit.SetupTelemetry(ctx, "web", getenv)
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.HTTPShutdownTimeout)
		defer cancel()
		if terr := tel.Shutdown(sctx); terr != nil {
			logger.Warn("web: flushing telemetry", "error", terr.Error())
		}
	}()

	d, err := db.Open(ctx, cfg.DatabaseURL, db.WithLogger(logger))
	if err != nil {
		return fmt.Errorf("KIT_DATABASE_URL: %w", err)
	}
	defer func() {
		servicekit.CloseWithin(logger, "web: closing database", cfg.HTTPShutdownTimeout, d.Close)
	}()

	h := health.New(health.WithLogger(logger))
	h.Add("database", db.Check(d), health.Timeout(DefaultCheckTimeout))
	// A replica started before `web migrate up` ran takes no traffic until it has.
	m, err := migrate.New(d, migrate.WithFS(Migrations()))
	if err != nil {
		return err
	}
	h.Add("migrations", m.Check, health.Timeout(DefaultCheckTimeout))
	mux := http.NewServeMux()
	h.Register(mux)
	mux.Handle("GET /metrics", tel.Metrics)
	stack, err := kithttp.DefaultStack(kithttp.StackConfig{Logger: logger, AllowedHosts: cfg.AllowedHosts, Health: h})
	if err != nil {
		return fmt.Errorf("KIT_WEB_ALLOWED_HOSTS: %w: %w", ErrConfig, err)
	}

	opts := []kithttp.Option{
		kithttp.WithAddr(cfg.HTTPAddr), kithttp.WithHealth(h), kithttp.WithLogger(logger),
		kithttp.WithSignals(false), kithttp.WithDrainDelay(cfg.HTTPDrainDelay),
		kithttp.WithShutdownTimeout(cfg.HTTPShutdownTimeout),
	}
	if ln != nil {
		opts = append(opts, kithttp.WithListener(ln))
	}
	srv := kithttp.NewServer(stack(mux), opts...)
	// The context's end (SIGTERM, SIGINT) starts the drain; the server closes once the drain
	// delay has passed.
	stop := context.AfterFunc(ctx, func() {
		logger.Info("web: draining", "drain_delay", cfg.HTTPDrainDelay.String())
		srv.Drain()
		srv.Shutdown()
	})
	defer stop()
	logger.Info("web: starting", "database", registry.Redact(cfg.DatabaseURL), "addr", cfg.HTTPAddr)
	if err := srv.Run(context.WithoutCancel(ctx)); err != nil {
		return err
	}
	logger.Info("web: stopped")
	return nil
}
