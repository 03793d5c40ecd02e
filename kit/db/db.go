// Package db opens relational databases by URL as *bun.DB, runs transactions whose nested calls
// become savepoints, and defers side effects until the outermost commit with [OnCommit].
//
// Backends register their schemes when imported: kit/db/postgres (postgres://, postgresql://),
// kit/db/mysql (mysql://, for MySQL and MariaDB) and kit/db/sqlite (sqlite://, pure Go).
//
//	import _ "github.com/stackkit/stackkit/kit/db/postgres"
//
//	bdb, err := db.Open(ctx, "postgres://app@localhost:5432/app?sslmode=disable&max_open_conns=20")
//	err = db.InTx(ctx, bdb, func(ctx context.Context, tx bun.Tx) error {
//		if _, err := tx.NewInsert().Model(&order).Exec(ctx); err != nil {
//			return err
//		}
//		return db.OnCommit(ctx, func(ctx context.Context) error { return mailer.Enqueue(ctx, receipt) })
//	})
//
// Every backend accepts the pool options max_open_conns, max_idle_conns, conn_max_lifetime,
// conn_max_idle_time and ping_timeout as URL query parameters, besides its own.
package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/url"
	"time"

	"github.com/stackkit/stackkit/kit/registry"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/schema"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// DefaultURL is the database used when none is configured: a SQLite file in the working
// directory's .kit folder (it needs kit/db/sqlite imported).
const DefaultURL = "sqlite://.kit/data.db"

// Driver is what a backend's opener returns: a database/sql handle (not yet connected, with the
// backend's pool defaults applied) and the bun dialect that speaks to it.
type Driver struct {
	DB      *sql.DB
	Dialect schema.Dialect
	// System names the database for telemetry: "postgresql", "mysql", "mariadb", "sqlite".
	System string
}

// Close closes the handle; the registry uses it to release a driver whose options failed validation.
func (d *Driver) Close() error { return d.DB.Close() }

var drivers = registry.New[*Driver]("db")

// Register makes a backend available under a URL scheme. It is called from a backend package's
// init function and panics if the scheme is taken or open is nil.
func Register(scheme string, open registry.Opener[*Driver]) { drivers.Register(scheme, open) }

// Schemes returns the registered URL schemes, sorted.
func Schemes() []string { return drivers.Schemes() }

// Option configures [Open].
type Option func(*config)

type config struct {
	logger         *slog.Logger
	tracerProvider trace.TracerProvider
	meterProvider  metric.MeterProvider
	queryText      bool
	bunOptions     []bun.DBOption
}

// WithLogger sets the logger; the default is slog.Default().
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// WithTracerProvider sets the OpenTelemetry tracer provider; the default is the global one.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(c *config) { c.tracerProvider = tp }
}

// WithMeterProvider sets the OpenTelemetry meter provider; the default is the global one.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(c *config) { c.meterProvider = mp }
}

// WithQueryText records each query's text, with placeholders and without argument values, as the
// db.query.text span attribute. It is off by default: query text can be large, and SQL written by
// hand sometimes inlines values that should not leave the process.
func WithQueryText(on bool) Option { return func(c *config) { c.queryText = on } }

// WithBunOptions passes options through to bun.NewDB.
func WithBunOptions(opts ...bun.DBOption) Option {
	return func(c *config) { c.bunOptions = append(c.bunOptions, opts...) }
}

type pool struct {
	maxOpen, maxIdle         int64
	maxLifetime, maxIdleTime time.Duration
	pingTimeout              time.Duration
	set                      map[string]bool
}

func (p *pool) read(o *registry.Options) {
	p.set = map[string]bool{}
	for _, name := range []string{"max_open_conns", "max_idle_conns", "conn_max_lifetime", "conn_max_idle_time"} {
		p.set[name] = o.Has(name)
	}
	p.maxOpen = o.Int("max_open_conns", 0, 0, math.MaxInt32)
	p.maxIdle = o.Int("max_idle_conns", 0, 0, math.MaxInt32)
	p.maxLifetime = o.Duration("conn_max_lifetime", 0)
	p.maxIdleTime = o.Duration("conn_max_idle_time", 0)
	p.pingTimeout = o.Duration("ping_timeout", 10*time.Second)
}

// apply sets the pool options the URL gave; the rest keep the backend's defaults.
func (p *pool) apply(db *sql.DB) {
	if p.set["max_open_conns"] {
		db.SetMaxOpenConns(int(p.maxOpen))
	}
	if p.set["max_idle_conns"] {
		db.SetMaxIdleConns(int(p.maxIdle))
	}
	if p.set["conn_max_lifetime"] {
		db.SetConnMaxLifetime(p.maxLifetime)
	}
	if p.set["conn_max_idle_time"] {
		db.SetConnMaxIdleTime(p.maxIdleTime)
	}
}

// Open opens the database at rawURL, applies the pool options, and pings it within ping_timeout
// (default 10s; 0 skips the ping). Errors show the URL with its password and secret parameters
// redacted. The scheme's backend package must be imported.
func Open(ctx context.Context, rawURL string, opts ...Option) (*bun.DB, error) {
	cfg := config{logger: slog.Default()}
	for _, o := range opts {
		o(&cfg)
	}
	var p pool
	drv, err := drivers.Open(ctx, rawURL, p.read)
	if err != nil {
		return nil, err
	}
	p.apply(drv.DB)
	if p.pingTimeout > 0 {
		pctx, cancel := context.WithTimeout(ctx, p.pingTimeout)
		err := drv.DB.PingContext(pctx)
		cancel()
		if err != nil {
			_ = drv.DB.Close()
			if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
				err = fmt.Errorf("no answer within ping_timeout %s: %w", p.pingTimeout, err)
			}
			u, _ := registry.Parse(rawURL) // parsed successfully above
			return nil, fmt.Errorf("db: open %q: ping: %w", registry.RedactURL(u), registry.Scrub(err, u))
		}
	}
	hook := newOtelHook(&cfg, drv.System, namespace(rawURL))
	return bun.NewDB(drv.DB, drv.Dialect, cfg.bunOptions...).WithQueryHook(hook), nil
}

// namespace is the database name for telemetry: the URL path without its leading slash.
func namespace(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil || len(u.Path) < 2 {
		return ""
	}
	return u.Path[1:]
}

func (c *config) tracer() trace.Tracer {
	tp := c.tracerProvider
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	return tp.Tracer(instrumentationName)
}

func (c *config) meter() metric.Meter {
	mp := c.meterProvider
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	return mp.Meter(instrumentationName)
}

const instrumentationName = "github.com/stackkit/stackkit/kit/db"
