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
	"os"
	"time"

	"github.com/stackkit/stackkit/kit/http/health"
	"github.com/stackkit/stackkit/kit/http/middleware"
	"github.com/stackkit/stackkit/kit/mail"
	"github.com/stackkit/stackkit/kit/queue"
	"github.com/stackkit/stackkit/kit/registry"
	"github.com/stackkit/stackkit/services/internal/servicekit"

	// The queue backends: nats:// and nats+embedded:// (memory:// is built in).
	_ "github.com/stackkit/stackkit/kit/queue/nats"
)

// Exit codes of Main.
const (
	ExitOK      = servicekit.ExitOK
	ExitFailure = servicekit.ExitFailure // a runtime failure: a server unreachable at start, a drain that timed out
	ExitConfig  = servicekit.ExitConfig  // a configuration error: a bad variable, URL or URL option
)

// closeTimeout bounds closing the queue and the mailer at exit.
const closeTimeout = 5 * time.Second

// Main runs the service with the process's environment, logging JSON to stderr, until SIGTERM or
// SIGINT, and returns the exit code.
func Main() int {
	if code, ok := servicekit.Args("mailer", os.Args[1:], usage, os.Stdout, os.Stderr); !ok {
		return code
	}
	cfg, err := ConfigFromEnv(os.Environ())
	return servicekit.Main("mailer", cfg.LogLevel, err, func(ctx context.Context, logger *slog.Logger) error {
		return Run(ctx, cfg, logger, os.Getenv)
	}, ExitCode)
}

// usage is what `mailer --help` prints.
const usage = `Usage: mailer

mailer sends the mail applications queue with kit/mail: it consumes the mail subject of
KIT_QUEUE_URL and sends each message through KIT_MAIL_URL. It takes no arguments; it is
configured from the environment:

  KIT_QUEUE_URL            the queue (default nats+embedded://.kit/nats: an embedded NATS server)
  KIT_MAIL_URL             where mail goes: smtp://, smtps:// (default console://: printed)
  KIT_HTTP_ADDR            /healthz, /readyz and /metrics (default :8080, every interface)
  KIT_HTTP_DRAIN_DELAY, KIT_HTTP_SHUTDOWN_TIMEOUT, KIT_LOG_LEVEL
  KIT_MAIL_SUBJECT, KIT_MAIL_CONSUMER, KIT_MAIL_CONCURRENCY, KIT_MAIL_MAX_DELIVERIES,
  KIT_MAIL_BACKOFF, KIT_MAIL_ACK_WAIT, KIT_MAIL_SEND_TIMEOUT, KIT_MAIL_DRAIN_TIMEOUT,
  KIT_MAIL_CHECK_TIMEOUT, and OTEL_* for telemetry

Every variable, its default and the exit codes: services/mailer/README.md.
`

// ExitCode maps an error of Run to Main's exit code.
func ExitCode(err error) int { return servicekit.ExitCode(err) }

// NewLogger returns the service's logger: JSON lines on w at level.
func NewLogger(w io.Writer, level slog.Level) *slog.Logger { return servicekit.NewLogger(w, level) }

// Run opens the queue and the mailer, serves /healthz, /readyz and /metrics on cfg.HTTPAddr and
// runs the mail worker until ctx is done. Then it drains: /readyz turns 503, the worker stops
// fetching, sends in flight finish and are acknowledged (or retried, or dead-lettered), and Run
// returns nil — or an error if they are still running after cfg.DrainTimeout. getenv reads the
// OTEL_* variables.
func Run(ctx context.Context, cfg Config, logger *slog.Logger, getenv func(string) string) error {
	tel, err := servicekit.SetupTelemetry(ctx, "mailer", getenv)
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), closeTimeout)
		defer cancel()
		if terr := tel.Shutdown(sctx); terr != nil {
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
		default:
			return errors.New("not consuming yet")
		}
		// Paused: the mail server is down, and the worker fetches nothing until it answers.
		return w.Paused()
	})
	mux := http.NewServeMux()
	h.Register(mux)
	mux.Handle("GET /metrics", tel.Metrics)
	handler := middleware.Recover(logger)(mux)

	logger.Info("mailer: starting", "queue", registry.Redact(cfg.QueueURL), "mail", registry.Redact(cfg.MailURL),
		"subject", cfg.Subject, "consumer", cfg.Consumer, "concurrency", cfg.Concurrency,
		"max_deliveries", cfg.MaxDeliveries, "ack_wait", cfg.AckWait.String(),
		"send_timeout", cfg.SendTimeout.String(), "drain_timeout", cfg.DrainTimeout.String())

	return servicekit.Server{
		Name: "mailer", Addr: cfg.HTTPAddr, Handler: handler, Health: h, Logger: logger,
		DrainDelay: cfg.HTTPDrainDelay, ShutdownTimeout: cfg.HTTPShutdownTimeout,
		WorkerName: "mail", Work: w.Run, Ready: w.Ready(),
		ReadyAttrs:   []any{"subject", cfg.Subject, "consumer", cfg.Consumer},
		DrainTimeout: cfg.DrainTimeout,
		DrainMessage: "mailer: draining: fetching no more messages, finishing the sends in flight",
		DrainTimedOut: func() error {
			logger.Error("mailer: sends still in flight after KIT_MAIL_DRAIN_TIMEOUT; exiting without them (they are delivered again after KIT_MAIL_ACK_WAIT)",
				"timeout", cfg.DrainTimeout.String())
			return nil
		},
	}.Run(ctx)
}

// closeWithin closes what, giving up (with a warning) after closeTimeout: the process is exiting.
func closeWithin(logger *slog.Logger, what string, closeFn func() error) {
	servicekit.CloseWithin(logger, "mailer: closing "+what, closeTimeout, closeFn)
}
