// Package postgres registers the postgres:// and postgresql:// schemes with kit/db, on the pgx
// driver through database/sql.
//
//	import _ "github.com/stackkit/stackkit/kit/db/postgres"
//
//	bdb, err := db.Open(ctx, "postgres://app:secret@localhost:5432/app?sslmode=disable&application_name=orders")
//
// pgx is the actively maintained PostgreSQL driver for Go: it supports context cancellation of
// running queries, every authentication method and TLS mode libpq has, and pgbouncer's
// transaction pooling (default_query_exec_mode=simple_protocol or exec).
//
// Besides kit/db's pool options, the URL accepts these libpq-style parameters: sslmode,
// sslrootcert, sslcert, sslkey, sslpassword, sslsni, host (a Unix socket directory), passfile,
// connect_timeout, application_name, search_path, target_session_attrs, statement_timeout,
// lock_timeout, idle_in_transaction_session_timeout, timezone, default_query_exec_mode.
package postgres

import (
	"context"
	"fmt"
	"net/url"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/stackkit/stackkit/kit/db"
	"github.com/stackkit/stackkit/kit/registry"
	"github.com/uptrace/bun/dialect/pgdialect"
)

func init() {
	db.Register("postgres", open)
	db.Register("postgresql", open)
}

// params are passed through to pgx; any other option is either kit/db's or an error.
var params = []string{
	"sslmode", "sslrootcert", "sslcert", "sslkey", "sslpassword", "sslsni", "host", "passfile",
	"connect_timeout", "application_name", "search_path", "target_session_attrs", "statement_timeout",
	"lock_timeout", "idle_in_transaction_session_timeout", "timezone", "default_query_exec_mode",
}

func open(_ context.Context, u *url.URL, opts *registry.Options) (*db.Driver, error) {
	pass := url.Values{}
	for _, name := range params {
		if opts.Has(name) {
			pass[name] = u.Query()[name]
		}
	}
	if err := opts.Err(); err != nil {
		return nil, err
	}
	clean := *u
	clean.Scheme = "postgres"
	clean.RawQuery = pass.Encode()
	cfg, err := pgx.ParseConfig(clean.String())
	if err != nil {
		return nil, fmt.Errorf("parse connection settings: %w", err)
	}
	return &db.Driver{DB: stdlib.OpenDB(*cfg), Dialect: pgdialect.New(), System: "postgresql"}, nil
}
