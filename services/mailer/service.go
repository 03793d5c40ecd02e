// Package mailer is Stackkit's mail service: it sends the mail that applications queue with
// kit/mail (a queued Mailer, queue+nats://...), through a real Mailer (smtp://, smtps://), with
// health endpoints, Prometheus metrics and a graceful drain on SIGTERM. The binary is
// cmd/mailer; everything is configured from the environment (see README.md):
//
//	KIT_QUEUE_URL='nats://nats:4222' KIT_MAIL_URL='smtps://app:secret@smtp.example.com' mailer
//
// Embedding it in a binary of your own:
//
//	cfg, err := mailer.ConfigFromEnv(os.Environ())
//	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
//	defer stop()
//	err = mailer.Run(ctx, cfg, slog.Default(), os.Getenv) // drains when ctx is done
package mailer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	kithttp "github.com/stackkit/stackkit/kit/http"
	"github.com/stackkit/stackkit/kit/http/health"
	"github.com/stackkit/stackkit/kit/http/middleware"
	"github.com/stackkit/stackkit/kit/mail"
	"github.com/stackkit/stackkit/kit/queue"
	"github.com/stackkit/stackkit/kit/registry"

	// The queue backends: nats:// and nats+embedded:// (memory:// is built in).
	_ "github.com/stackkit/stackkit/kit/queue/nats"
)

// Exit codes of Main.
const (
	ExitOK      = 0
	ExitFailure = 1 // a runtime failure: a server unreachable at start, a drain that timed out
	ExitConfig  = 2 // a configuration error: a bad variable, URL or URL option
)

// httpShutdownTimeout bounds closing the HTTP server once the worker has drained: it serves only
// probes and metrics, so in-flight requests are short.
const httpShutdownTimeout = 5 * time.Second

// closeTimeout bounds closing the queue and the mailer at exit.
const closeTimeout = 5 * time.Second

// Main runs the service with the process's environment, logging JSON to stderr, until SIGTERM or
// SIGINT, and returns the exit code.
func Main() int {
	cfg, err := ConfigFromEnv(os.Environ())
	logger := NewLogger(os.Stderr, cfg.LogLevel)
	if err != nil {
		logger.Error("mailer: cannot start", "error", err.Error())
		return ExitConfig
	}
	slog.SetDefault(logger) // the embedded NATS server and libraries without a logger option log here
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	// After the first signal the default behaviour returns: a second SIGINT or SIGTERM ends the
	// process at once, without waiting for the drain.
	go func() { <-ctx.Done(); stop() }()
	if err := Run(ctx, cfg, logger, os.Getenv); err != nil {
		code := ExitCode(err)
		msg := "mailer: failed"
		if code == ExitConfig {
			msg = "mailer: cannot start"
		}
		logger.Error(msg, "error", err.Error())
		return code
	}
	return ExitOK
}

// ExitCode maps an error of Run to Main's exit code.
func ExitCode(err error) int {
	switch {
	case err == nil:
		return ExitOK
	case errors.Is(err, ErrConfig), errors.Is(err, registry.ErrInvalidOption),
		errors.Is(err, registry.ErrUnknownScheme), errors.Is(err, registry.ErrInvalidURL):
		return ExitConfig
	}
	return ExitFailure
}

// NewLogger returns the service's logger: JSON lines on w at level.
func NewLogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level}))
}

// Run opens the queue and the mailer, serves /healthz, /readyz and /metrics on cfg.HTTPAddr and
// runs the mail worker until ctx is done. Then it drains: /readyz turns 503, the worker stops
// fetching, sends in flight finish and are acknowledged (or retried, or dead-lettered), and Run
// returns nil — or an error if they are still running after cfg.DrainTimeout. getenv reads the
// OTEL_* variables.
func Run(ctx context.Context, cfg Config, logger *slog.Logger, getenv func(string) string) error {
	tel, err := setupTelemetry(ctx, getenv)
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), closeTimeout)
		defer cancel()
		if terr := tel.shutdown(sctx); terr != nil {
			logger.Warn("mailer: flushing telemetry", "error", terr.Error())
		}
	}()

	q, err := queue.Open(ctx, cfg.QueueURL, queue.WithLogger(logger))
	if err != nil {
		return fmt.Errorf("KIT_QUEUE_URL: %w", err)
	}
	defer closeWithin(logger, "queue", q.Close)
	m, err := mail.Open(ctx, cfg.MailURL, mail.WithLogger(logger))
	if err != nil {
		return fmt.Errorf("KIT_MAIL_URL: %w", err)
	}
	defer closeWithin(logger, "mailer", m.Close)

	w := &mail.Worker{
		Queue: q, Mailer: m, Subject: cfg.Subject, Consumer: cfg.Consumer, Logger: logger,
		Options: []queue.ConsumeOption{
			queue.Concurrency(cfg.Concurrency), queue.MaxDeliveries(cfg.MaxDeliveries),
			queue.Backoff(cfg.Backoff...), queue.AckWait(cfg.AckWait), queue.Timeout(cfg.SendTimeout),
		},
	}
	h := health.New(health.WithLogger(logger))
	h.Add("queue", q.Check(), health.Timeout(cfg.CheckTimeout))
	h.Add("mail", m.Check(), health.Timeout(cfg.CheckTimeout))
	h.Add("worker", func(context.Context) error {
		select {
		case <-w.Ready():
			return nil
		default:
			return errors.New("not consuming yet")
		}
	})
	mux := http.NewServeMux()
	h.Register(mux)
	mux.Handle("GET /metrics", tel.metrics)
	handler := middleware.Recover(logger)(mux)

	logger.Info("mailer: starting", "queue", redact(cfg.QueueURL), "mail", redact(cfg.MailURL),
		"subject", cfg.Subject, "consumer", cfg.Consumer, "concurrency", cfg.Concurrency,
		"max_deliveries", cfg.MaxDeliveries, "ack_wait", cfg.AckWait.String(),
		"send_timeout", cfg.SendTimeout.String(), "drain_timeout", cfg.DrainTimeout.String())

	// The worker's context is its own: SIGTERM stops it first, while the HTTP server keeps
	// serving probes and metrics; the server stops once the worker has drained.
	workerCtx, stopWorker := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWorker()
	workerDone := make(chan struct{})
	runDone := make(chan struct{})
	defer close(runDone)
	var srv *kithttp.Server
	srv = kithttp.NewServer(handler, kithttp.WithAddr(cfg.HTTPAddr), kithttp.WithHealth(h),
		kithttp.WithLogger(logger), kithttp.WithSignals(false), kithttp.WithDrainDelay(0),
		kithttp.WithShutdownTimeout(httpShutdownTimeout),
		kithttp.WithWorker("mail", func(sctx context.Context) error {
			defer close(workerDone)
			defer srv.Shutdown()
			// The server shutting down for its own reasons (it could not serve) stops the worker.
			defer context.AfterFunc(sctx, stopWorker)()
			go func() {
				select {
				case <-w.Ready():
					logger.Info("mailer: consuming", "subject", cfg.Subject, "consumer", cfg.Consumer)
				case <-workerCtx.Done():
				}
			}()
			return w.Run(workerCtx)
		}))

	go func() {
		select {
		case <-ctx.Done():
		case <-workerDone:
			return
		case <-runDone:
			return
		}
		logger.Info("mailer: draining: fetching no more messages, finishing the sends in flight",
			"timeout", cfg.DrainTimeout.String())
		h.Drain()
		stopWorker()
		t := time.NewTimer(cfg.DrainTimeout)
		defer t.Stop()
		select {
		case <-workerDone:
			logger.Info("mailer: drained")
		case <-runDone:
		case <-t.C:
			logger.Error("mailer: sends still in flight after KIT_MAIL_DRAIN_TIMEOUT; exiting without them (they are delivered again after KIT_MAIL_ACK_WAIT)",
				"timeout", cfg.DrainTimeout.String())
			srv.Shutdown()
		}
	}()

	if err := srv.Run(context.WithoutCancel(ctx)); err != nil {
		return err
	}
	logger.Info("mailer: stopped")
	return nil
}

// closeWithin closes what, giving up (with a warning) after closeTimeout: the process is exiting.
func closeWithin(logger *slog.Logger, what string, closeFn func() error) {
	done := make(chan error, 1)
	go func() { done <- closeFn() }()
	t := time.NewTimer(closeTimeout)
	defer t.Stop()
	select {
	case err := <-done:
		if err != nil {
			logger.Warn("mailer: closing "+what, "error", err.Error())
		}
	case <-t.C:
		logger.Warn("mailer: closing "+what+" timed out", "timeout", closeTimeout.String())
	}
}

// redact hides a URL's secrets for logs: registry.Redact's password and secret options, and a
// lone user name, which NATS reads as a token.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return registry.Redact(raw)
	}
	if u.User != nil {
		if _, ok := u.User.Password(); !ok && u.User.Username() != "" {
			u.User = url.User("xxxxx")
		}
		return registry.RedactURL(u)
	}
	for k := range u.Query() {
		if registry.IsSecretParam(k) {
			return registry.RedactURL(u)
		}
	}
	return raw // nothing to hide: as written (console:// stays console://)
}
