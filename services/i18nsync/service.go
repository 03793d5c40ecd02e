// Package i18nsync is Stackkit's translation sync service: it consumes sync requests (from
// `kitctl i18n sync`, its own timer, or Transifex's webhooks, whose signature it checks), pulls
// the translations from Transifex, compiles and checks them, stores them in kit/storage as a new
// catalog version and announces it, so services following the catalogs (txsync.Follower) swap to
// the new translations without a restart. It serves /healthz, /readyz, /metrics and the webhook,
// and drains on SIGTERM. The binary is cmd/i18nsync; everything is configured from the
// environment (see README.md):
//
//	KIT_QUEUE_URL=nats://nats:4222 KIT_STORAGE_URL=s3://catalogs KIT_TRANSIFEX_TOKEN=... \
//	KIT_TX_CONFIG=/etc/i18nsync/config KIT_TX_WEBHOOK_SECRET=... i18nsync
//
// The worker itself is kit/i18n/transifex/txsync; this package composes it with the backends.
package i18nsync

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	kithttp "github.com/stackkit/stackkit/kit/http"
	"github.com/stackkit/stackkit/kit/http/health"
	"github.com/stackkit/stackkit/kit/http/middleware"
	"github.com/stackkit/stackkit/kit/i18n/transifex"
	"github.com/stackkit/stackkit/kit/i18n/transifex/txsync"
	"github.com/stackkit/stackkit/kit/queue"
	"github.com/stackkit/stackkit/kit/registry"
	"github.com/stackkit/stackkit/kit/storage"
	"github.com/stackkit/stackkit/services/internal/servicekit"

	// The backends: nats:// and nats+embedded:// for the queue (memory:// is built in), s3:// for
	// storage (file:// and mem:// are built in).
	_ "github.com/stackkit/stackkit/kit/queue/nats"
	_ "github.com/stackkit/stackkit/kit/storage/s3"
)

// Exit codes of Main.
const (
	ExitOK      = servicekit.ExitOK
	ExitFailure = servicekit.ExitFailure // a runtime failure: a server unreachable at start, a drain that timed out
	ExitConfig  = servicekit.ExitConfig  // a configuration error: a bad variable, URL, .tx/config or missing token
)

const closeTimeout = 5 * time.Second

// Main runs the service with the process's environment, logging JSON to stderr, until SIGTERM or
// SIGINT, and returns the exit code.
func Main() int {
	if code, ok := servicekit.Args("i18nsync", os.Args[1:], usage, os.Stdout, os.Stderr); !ok {
		return code
	}
	cfg, err := ConfigFromEnv(os.Environ())
	return servicekit.Main("i18nsync", cfg.LogLevel, err, func(ctx context.Context, logger *slog.Logger) error {
		return Run(ctx, cfg, logger, os.Getenv)
	}, ExitCode)
}

// usage is what `i18nsync --help` prints.
const usage = `Usage: i18nsync

i18nsync keeps services' translations in step with Transifex: it consumes sync requests on
KIT_QUEUE_URL, pulls the projects of KIT_TX_CONFIG, stores each new catalog version in
KIT_STORAGE_URL and announces it. It takes no arguments; it is configured from the environment:

  KIT_TX_CONFIG            the project (default: .tx/config found from the working directory)
  KIT_TRANSIFEX_TOKEN      or TX_TOKEN: the API token (default: ~/.transifexrc)
  KIT_QUEUE_URL            the queue (default nats+embedded://.kit/nats: an embedded NATS server)
  KIT_STORAGE_URL          where catalog versions are stored (default file://.kit/media)
  KIT_HTTP_ADDR            /healthz, /readyz, /metrics and the webhook (default :8080, every interface)
  KIT_HTTP_DRAIN_DELAY, KIT_HTTP_SHUTDOWN_TIMEOUT, KIT_LOG_LEVEL, KIT_TX_*, KIT_I18N_*,
  and OTEL_* for telemetry

Every variable, its default and the exit codes: services/i18nsync/README.md.
`

// ExitCode maps an error of Run to Main's exit code.
func ExitCode(err error) int { return servicekit.ExitCode(err, transifex.ErrConfig) }

// NewLogger returns the service's logger: JSON lines on w at level.
func NewLogger(w io.Writer, level slog.Level) *slog.Logger { return servicekit.NewLogger(w, level) }

// Run opens everything (Open), serves and works until ctx is done, then drains (Service.Run).
func Run(ctx context.Context, cfg Config, logger *slog.Logger, getenv func(string) string, opts ...Option) error {
	s, err := Open(ctx, cfg, logger, getenv, opts...)
	if err != nil {
		return err
	}
	defer s.Close()
	return s.Run(ctx)
}

// Option configures Open beyond the environment (tests, embedding).
type Option func(*options)

type options struct{ client []transifex.Option }

// WithClientOptions adds options to the Transifex client (after the service's own).
func WithClientOptions(o ...transifex.Option) Option {
	return func(c *options) { c.client = append(c.client, o...) }
}

// Service is the opened service: its backends, the worker and the HTTP handler.
type Service struct {
	Config   Config
	Queue    *queue.Queue // sync requests
	Events   *queue.Queue // catalogs-updated events (Queue itself when KIT_I18N_EVENTS_URL is not set apart)
	Store    *storage.Storage
	TxConfig *transifex.Config
	Worker   *txsync.Worker
	// Handler serves /healthz, /readyz, /metrics and, with a webhook secret, the webhook.
	Handler http.Handler

	logger  *slog.Logger
	health  *health.Health
	tel     *servicekit.Telemetry
	ready   chan struct{}
	closers []func() error
}

// Open reads .tx/config, resolves the Transifex token, opens the queues and the storage and
// builds the worker and the HTTP handler. getenv reads the token variables and OTEL_*.
func Open(ctx context.Context, cfg Config, logger *slog.Logger, getenv func(string) string, opts ...Option) (_ *Service, err error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	s := &Service{Config: cfg, logger: logger, ready: make(chan struct{})}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	path := cfg.TxConfig
	if path == "" {
		if path, err = transifex.FindConfig("."); err != nil {
			return nil, fmt.Errorf("KIT_TX_CONFIG: %w", err)
		}
	}
	if s.TxConfig, err = transifex.LoadConfig(path); err != nil {
		return nil, fmt.Errorf("KIT_TX_CONFIG: %w", err)
	}
	creds, err := transifex.ResolveCredentials(s.TxConfig, transifex.CredentialOptions{Getenv: getenv, RestHostname: cfg.RestHostname})
	if err != nil {
		return nil, err
	}
	client, err := transifex.NewFromCredentials(creds, append([]transifex.Option{
		transifex.WithLogger(logger), transifex.WithUserAgent("stackkit-i18nsync")}, o.client...)...)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}

	s.tel, err = servicekit.SetupTelemetry(ctx, "i18nsync", getenv)
	if err != nil {
		return nil, err
	}
	s.closers = append(s.closers, func() error {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), closeTimeout)
		defer cancel()
		return s.tel.Shutdown(sctx)
	})
	if s.Queue, err = queue.Open(ctx, cfg.QueueURL, queue.WithLogger(logger)); err != nil {
		return nil, fmt.Errorf("KIT_QUEUE_URL: %w", err)
	}
	s.closers = append(s.closers, s.Queue.Close)
	s.Events = s.Queue
	if cfg.EventsURL != cfg.QueueURL {
		if s.Events, err = queue.Open(ctx, cfg.EventsURL, queue.WithLogger(logger)); err != nil {
			return nil, fmt.Errorf("KIT_I18N_EVENTS_URL: %w", err)
		}
		s.closers = append(s.closers, s.Events.Close)
	}
	if s.Store, err = storage.Open(ctx, cfg.StorageURL, storage.WithLogger(logger)); err != nil {
		return nil, fmt.Errorf("KIT_STORAGE_URL: %w", err)
	}
	s.closers = append(s.closers, s.Store.Close)

	readyOnce := make(chan struct{}, 1)
	s.Worker, err = txsync.NewWorker(client, s.TxConfig, s.Store, s.Queue, txsync.Options{
		Prefix: cfg.Prefix, RequestSubject: cfg.Subject, EventSubject: cfg.EventSubject, Consumer: cfg.Consumer,
		Events: s.Events, Mode: cfg.Mode, Keep: cfg.Keep, Logger: logger,
		ConsumeOptions: []queue.ConsumeOption{
			queue.MaxDeliveries(cfg.MaxDeliveries), queue.Backoff(cfg.Backoff...), queue.Timeout(cfg.SyncTimeout),
			queue.Ready(func() {
				select {
				case readyOnce <- struct{}{}:
					close(s.ready)
				default:
				}
			}),
		},
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}

	s.health = health.New(health.WithLogger(logger))
	s.health.Add("queue", s.Queue.Check(), health.Timeout(cfg.CheckTimeout))
	if s.Events != s.Queue {
		s.health.Add("events", s.Events.Check(), health.Timeout(cfg.CheckTimeout))
	}
	s.health.Add("storage", s.Store.Check(), health.Timeout(cfg.CheckTimeout))
	s.health.Add("worker", func(context.Context) error {
		select {
		case <-s.ready:
			return nil
		default:
			return errors.New("not consuming yet")
		}
	})
	registerWorkerMetrics(s.tel.Registry, s.Worker)

	mux := http.NewServeMux()
	s.health.Register(mux)
	mux.Handle("GET /metrics", s.tel.Metrics)
	if cfg.WebhookSecret != "" {
		hook, err := txsync.NewWebhook(txsync.WebhookOptions{
			Secret: cfg.WebhookSecret, URL: cfg.WebhookURL, MaxAge: cfg.WebhookMaxAge, Window: cfg.WebhookWindow,
			Config: s.TxConfig, Queue: s.Queue, Subject: cfg.Subject, Logger: logger,
		})
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrConfig, err)
		}
		mux.Handle(cfg.WebhookPath, hook)
	}
	s.Handler = kithttp.Chain(middleware.Recover(logger), middleware.AccessLog(logger))(mux)
	return s, nil
}

// Ready is closed once the worker consumes.
func (s *Service) Ready() <-chan struct{} { return s.ready }

// Close releases the backends (Run does not).
func (s *Service) Close() {
	for i := len(s.closers) - 1; i >= 0; i-- {
		closeWithin(s.logger, s.closers[i])
	}
	s.closers = nil
}

// Run serves HTTP on cfg.HTTPAddr and runs the worker until ctx is done. Then it drains: /readyz
// turns 503, the worker stops fetching requests, a sync in progress finishes and its requests
// are acknowledged (or retried), and Run returns nil, or an error if the sync still runs after
// cfg.DrainTimeout (its requests are then delivered again after the queue's ack wait).
func (s *Service) Run(ctx context.Context) error {
	cfg, logger := s.Config, s.logger
	logger.Info("i18nsync: starting", "queue", registry.Redact(cfg.QueueURL), "events", registry.Redact(cfg.EventsURL),
		"storage", registry.Redact(cfg.StorageURL), "resources", len(s.TxConfig.Resources), "subject", cfg.Subject,
		"event_subject", cfg.EventSubject, "prefix", cfg.Prefix, "webhook", cfg.WebhookSecret != "",
		"interval", cfg.Interval.String(), "drain_timeout", cfg.DrainTimeout.String())

	return servicekit.Server{
		Name: "i18nsync", Addr: cfg.HTTPAddr, Handler: s.Handler, Health: s.health, Logger: logger,
		DrainDelay: cfg.HTTPDrainDelay, ShutdownTimeout: cfg.HTTPShutdownTimeout,
		WorkerName: "i18nsync", Ready: s.ready,
		ReadyAttrs: []any{"subject", cfg.Subject, "consumer", cfg.Consumer},
		Work: func(ctx context.Context) error {
			if cfg.Interval > 0 {
				go s.tick(ctx)
			}
			return s.Worker.Run(ctx)
		},
		DrainTimeout: cfg.DrainTimeout,
		DrainMessage: "i18nsync: draining: taking no more requests, finishing the sync in progress",
		DrainAttrs:   func() []any { return []any{"busy", s.Worker.Stats().Busy} },
		DrainTimedOut: func() error {
			return fmt.Errorf("i18nsync: a sync still ran after KIT_I18N_DRAIN_TIMEOUT (%s); its requests come again after the ack wait", cfg.DrainTimeout)
		},
	}.Run(ctx)
}

// tick publishes a sync request at every multiple of the interval (on the wall clock, so every
// replica ticks at the same moments and the queue keeps one request: they share a window).
func (s *Service) tick(ctx context.Context) {
	iv := s.Config.Interval
	for {
		now := time.Now()
		t := time.NewTimer(now.Truncate(iv).Add(iv).Sub(now))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		msg, err := txsync.Request{Reason: "interval " + iv.String()}.Message(s.Config.Subject, min(iv, time.Minute))
		if err == nil {
			err = s.Queue.Publish(ctx, msg)
		}
		if err != nil && ctx.Err() == nil {
			s.logger.Warn("i18nsync: queueing the periodic sync", "error", err.Error())
		}
	}
}

// registerWorkerMetrics exposes the worker's counters at /metrics.
func registerWorkerMetrics(reg *prometheus.Registry, w *txsync.Worker) {
	counter := func(name, help string, f func(txsync.Stats) int64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 { return float64(f(w.Stats())) })
	}
	gauge := func(name, help string, f func(txsync.Stats) float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, func() float64 { return f(w.Stats()) })
	}
	reg.MustRegister(
		counter("i18nsync_requests_total", "Sync requests handled, redeliveries included.", func(s txsync.Stats) int64 { return s.Requests }),
		counter("i18nsync_syncs_total", "Syncs (pull, build, publish) run.", func(s txsync.Stats) int64 { return s.Syncs }),
		counter("i18nsync_sync_failures_total", "Syncs that failed; nothing was published.", func(s txsync.Stats) int64 { return s.Failures }),
		counter("i18nsync_versions_total", "Catalog versions published.", func(s txsync.Stats) int64 { return s.Versions }),
		counter("i18nsync_coalesced_total", "Requests answered by a sync another request ran.", func(s txsync.Stats) int64 { return s.Coalesced }),
		gauge("i18nsync_waiting_requests", "Requests waiting for the running sync to end.", func(s txsync.Stats) float64 { return float64(s.Waiting) }),
		gauge("i18nsync_busy", "1 while a sync runs.", func(s txsync.Stats) float64 {
			if s.Busy {
				return 1
			}
			return 0
		}),
		gauge("i18nsync_last_success_timestamp_seconds", "When a sync last succeeded (0: never).", func(s txsync.Stats) float64 {
			if s.LastSuccess.IsZero() {
				return 0
			}
			return float64(s.LastSuccess.UnixNano()) / 1e9
		}),
	)
}

// closeWithin closes, giving up (with a warning) after closeTimeout: the process is exiting.
func closeWithin(logger *slog.Logger, closeFn func() error) {
	servicekit.CloseWithin(logger, "i18nsync: closing", closeTimeout, closeFn)
}
